"""Answering-machine detection (AMD), sans-I/O and batched over many channels.

Theory of operation
-------------------
The detector listens to what the callee sends after answering (8 kHz int16, 20 ms
frames of 160 samples) and decides HUMAN, MACHINE or NOTSURE, with a cause and the
decision time measured in audio time from the start of analysis.

Per frame, for every channel at once (numpy over a channels × 160 matrix):

1. *Energy* is the mean absolute sample value (the measure Asterisk's silence
   threshold of 256 is expressed in).
2. *Adaptive noise floor*: a minimum tracker that follows the energy down at once
   and creeps up by ``noise_floor_rise`` per frame. A frame is voice when its
   energy reaches ``max(silence_threshold, noise_ratio × floor)``, so a noisy line
   (hum, street, a hiss above 256) does not read as one endless word. Optionally
   (``peak_gate_db``) it must also be within that many dB of the loudest recent
   frame, which keeps a TV or a second voice far from the phone out of the count.
3. *Tone analysis*: one Hann-windowed real FFT per frame (50 Hz bins) for the whole
   channel matrix. For the strongest peak in 300–2200 Hz two measures are kept: its
   *purity* (share of the frame's power in the three bins around it) and its *side
   level* (the strongest bin outside its main lobe, in dB below it: a vowel has
   harmonics there, a beep has only noise). The frequency is refined by parabolic
   interpolation of the log spectrum. A *tone run* starts on a clean frame
   (``tone_purity``, ``tone_max_side_db``) and continues on frames that are merely
   tonal (``tone_hold_*``, hysteresis for noisy lines and V.25 phase reversals) while
   frequency and level stay steady (``tone_tolerance_hz``,
   ``tone_level_tolerance_db``); one non-tonal frame is bridged.

The word state machine follows Asterisk's app_amd (the documented rules, with its
defaults in `AmdConfig`):

* silence: after ``between_words_silence_ms`` the current word ends; initial silence
  of ``initial_silence_ms`` → MACHINE ``INITIALSILENCE``; once a greeting started,
  ``after_greeting_silence_ms`` of silence → HUMAN ``HUMAN``;
* voice: ``min_word_length_ms`` of voice opens a word; ``maximum_number_of_words``
  words → MACHINE ``MAXWORDS``; a greeting longer than ``greeting_ms`` of voice →
  MACHINE ``LONGGREETING``; one word longer than ``maximum_word_length_ms`` → MACHINE
  ``MAXWORDLENGTH``;
* ``total_analysis_time_ms`` without a decision → NOTSURE ``TOOLONG``.

One word rule is this module's own, off in the Asterisk defaults: a greeting of at
most ``short_greeting_ms`` of voice ("Halo?", "Tak?") followed by
``short_greeting_silence_ms`` of silence → HUMAN ``HUMAN`` (people who said one word
wait; a recording that said one word goes on sooner).

Tone rules added on top: a tone run at 2100 Hz for ``ced_min_ms`` → MACHINE
``FAX-CED``; at 1100 Hz for ``cng_min_ms`` → MACHINE ``FAX-CNG`` (fax is reported as
MACHINE with a fax cause, plus a `FaxToneDetected` event, so the dialer needs only
three outcomes but can still mark the number as a fax); any other run of
400–2000 Hz lasting ``beep_min_ms`` → MACHINE ``BEEP`` (a person does not beep; a
run one frame shorter is accepted, since a tone rarely starts on a frame boundary).
Near 1100 Hz the beep decision waits for the tone to end, since it may grow into CNG.
Tonal frames are neither voice nor silence for the word machine.

`AmdConfig()` is Asterisk's defaults (the reference point); `RECOMMENDED` is the
configuration tuned on the training half of the espeak-ng corpus
(bench/amd_accuracy.py reports it on the held-out half).

After a decision the word machine stops but tone analysis goes on as long as frames
are fed: a `BeepDetected` event is emitted when each beep *ends*, which is the moment
to start speaking a message after MACHINE.

`AmdBank` holds the state of many channels as numpy arrays and advances any subset
of them by one frame per `step` call, sharing the per-frame math. `AmdDetector` is
the single-channel face of the same code (a bank of one, plus sample buffering so
audio may be fed in pieces of any size and a wall-clock deadline for a line that
stops sending audio); both therefore give identical answers.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.fft  # type: ignore[import-untyped]

from media.errors import MediaError

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
FRAME_MS = 20
_BIN_HZ = SAMPLE_RATE / FRAME_SAMPLES  # 50 Hz per FFT bin
_TONE_LO_BIN = 6  # 300 Hz: search band for tones, wide enough for CED at 2100 Hz
_TONE_HI_BIN = 44  # 2200 Hz

Pcm = npt.NDArray[np.int16]


class AmdError(MediaError, ValueError):
    """Bad configuration or input given to the AMD detector."""


class AmdResult(enum.Enum):
    HUMAN = "HUMAN"
    MACHINE = "MACHINE"
    NOTSURE = "NOTSURE"


# Causes, as Asterisk names them where a rule comes from app_amd.
INITIALSILENCE = "INITIALSILENCE"
HUMAN = "HUMAN"
MAXWORDS = "MAXWORDS"
LONGGREETING = "LONGGREETING"
MAXWORDLENGTH = "MAXWORDLENGTH"
TOOLONG = "TOOLONG"
BEEP = "BEEP"
FAX_CED = "FAX-CED"
FAX_CNG = "FAX-CNG"
NOAUDIO = "NOAUDIO"
_CAUSES = (INITIALSILENCE, HUMAN, MAXWORDS, LONGGREETING, MAXWORDLENGTH, TOOLONG, BEEP,
           FAX_CED, FAX_CNG, NOAUDIO)
_RESULT_OF = {HUMAN: AmdResult.HUMAN, TOOLONG: AmdResult.NOTSURE, NOAUDIO: AmdResult.NOTSURE}


@dataclass(frozen=True, slots=True, kw_only=True)
class AmdConfig:
    """Every threshold of the detector. Word-rule defaults are Asterisk app_amd's
    (its amd.conf sample), including ``maximum_number_of_words = 2``: MACHINE when the
    word count reaches it. Tone, noise-floor and short-greeting settings are this
    module's own; times are in milliseconds of audio."""

    initial_silence_ms: int = 2500
    greeting_ms: int = 1500
    after_greeting_silence_ms: int = 800
    total_analysis_time_ms: int = 5000
    min_word_length_ms: int = 100
    between_words_silence_ms: int = 50
    maximum_number_of_words: int = 2
    maximum_word_length_ms: int = 5000
    silence_threshold: int = 256
    # this module's addition (0 = off): a greeting of at most short_greeting_ms of
    # voice ("Halo?") is a person once short_greeting_silence_ms of silence follow
    short_greeting_ms: int = 0
    short_greeting_silence_ms: int = 500
    # adaptive noise floor
    noise_ratio: float = 3.0
    noise_floor_rise: float = 0.005
    # frames this many dB under the loudest recent frame are silence (0 = off): keeps
    # a TV or a second voice far from the phone out of the word count
    peak_gate_db: float = 0.0
    peak_decay_db_per_s: float = 3.0
    # tones
    tone_purity: float = 0.7  # to start a tone run
    tone_max_side_db: float = -17.0
    tone_hold_purity: float = 0.5  # to continue one (hysteresis: noise, phase flips)
    tone_hold_side_db: float = -8.0
    tone_tolerance_hz: float = 15.0
    tone_level_tolerance_db: float = 3.0
    beep_min_ms: int = 100
    beep_min_hz: float = 400.0
    beep_max_hz: float = 2000.0
    beep_decides: bool = True
    ced_hz: float = 2100.0
    ced_tolerance_hz: float = 30.0
    ced_min_ms: int = 500
    cng_hz: float = 1100.0
    cng_tolerance_hz: float = 38.0
    cng_min_ms: int = 400
    # wall-clock grace for AmdDetector when audio stops arriving
    no_audio_grace_ms: int = 1000

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool):
                continue
            if not isinstance(v, int | float) or v != v or v in (float("inf"), float("-inf")):
                raise AmdError(f"AmdConfig.{f.name} must be a finite number, got {v!r}")
            if v < 0 and f.name not in ("tone_max_side_db", "tone_hold_side_db"):
                raise AmdError(f"AmdConfig.{f.name} must be >= 0, got {v!r}")
        if self.maximum_number_of_words < 1:
            raise AmdError("AmdConfig.maximum_number_of_words must be >= 1")
        if self.total_analysis_time_ms < FRAME_MS:
            raise AmdError("AmdConfig.total_analysis_time_ms must be at least one frame")
        if not 0.0 < self.tone_purity <= 1.0:
            raise AmdError(f"AmdConfig.tone_purity must be in (0, 1], got {self.tone_purity}")
        if self.noise_ratio < 1.0:
            raise AmdError(f"AmdConfig.noise_ratio must be >= 1, got {self.noise_ratio}")
        if self.beep_min_hz >= self.beep_max_hz:
            raise AmdError("AmdConfig.beep_min_hz must be below beep_max_hz")

    def replace(self, **changes: float | int | bool) -> AmdConfig:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        unknown = set(changes) - set(values)
        if unknown:
            raise AmdError(f"unknown AmdConfig field(s): {', '.join(sorted(unknown))}")
        values.update(changes)
        return AmdConfig(**values)


# Tuned by `bench/amd_accuracy.py --tune` on the train splits of two espeak-ng corpora
# (bench/amd_corpus.py, seeds 7 and 8). Asterisk's two-word limit makes "Tak,
# słucham?" a machine (a word ends at every 50 ms dip); up to 8 words are allowed and
# the greeting-length rule does the work. The voice gate sits 8 dB over the noise
# floor and 20 dB under the loudest recent frame (decaying 0.5 dB/s), which keeps a
# TV or another voice in the room from reading as an endless greeting.
# A second sweep added the short-greeting rule: a greeting of at most 0.8 s of voice
# is a person after 0.6 s of silence, which brought the median decision for people
# from 2.46 s to 2.28 s for one more machine passed in 250.
RECOMMENDED = AmdConfig(
    maximum_number_of_words=8,
    noise_ratio=2.5,
    peak_gate_db=20.0,
    peak_decay_db_per_s=0.5,
    short_greeting_ms=800,
    short_greeting_silence_ms=600,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AmdDecision:
    """The verdict; `at_s` is audio time since the start of analysis."""

    result: AmdResult
    cause: str
    at_s: float
    words: int
    voice_ms: int
    silence_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BeepDetected:
    """A beep ended at `end_s` (audio time): a message may be left from now on."""

    start_s: float
    end_s: float
    frequency_hz: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FaxToneDetected:
    tone: str  # "CED" (answering fax/modem, 2100 Hz) or "CNG" (calling fax, 1100 Hz)
    start_s: float
    at_s: float
    frequency_hz: float


AmdEvent = AmdDecision | BeepDetected | FaxToneDetected


def frame_features(frames: npt.NDArray[np.int16]) -> tuple[
        npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32],
        npt.NDArray[np.float32]]:
    """Per-frame energy, strongest-tone frequency, its purity and its side-peak level
    (dB of the strongest bin outside the peak's main lobe, relative to the peak) for an
    (n, 160) matrix.

    Shared by every channel of a tick: one vectorised FFT over the whole matrix."""
    x = frames.astype(np.float32)
    energy = np.abs(x).mean(axis=1)
    # scipy's FFT transforms the rows in one call (numpy's loops per row: ~8x slower);
    # one worker: the media tick owns one core.
    spec = scipy.fft.rfft(x * _WINDOW, axis=1, workers=1)
    p = spec.real**2 + spec.imag**2
    band = p[:, _TONE_LO_BIN - 1 : _TONE_HI_BIN + 2]
    k = np.argmax(band[:, 1:-1], axis=1) + 1  # index in `band`, neighbours exist
    rows = np.arange(p.shape[0])
    lm, l0, lp = band[rows, k - 1], band[rows, k], band[rows, k + 1]
    total = p[:, 1:].sum(axis=1) + np.float32(1e-3)
    purity = (lm + l0 + lp) / total
    # Parabolic interpolation on log power refines the peak to a few Hz.
    a, b, c = np.log(lm + 1e-6), np.log(l0 + 1e-6), np.log(lp + 1e-6)
    den = a - 2 * b + c
    safe = np.where(np.abs(den) > 1e-9, den, np.float32(-1.0))
    delta = np.clip(0.5 * (a - c) / safe, -0.5, 0.5)
    freq = ((k + _TONE_LO_BIN - 1 + delta) * _BIN_HZ).astype(np.float32)
    # A beep has nothing else standing out; a vowel has harmonics beside its peak.
    kk = k + _TONE_LO_BIN - 1  # bin index in `p`
    side = p.copy()
    for d in (-2, -1, 0, 1, 2):
        side[rows, kk + d] = 0.0
    side_db = 10 * np.log10(side[:, 1:].max(axis=1) / (l0 + np.float32(1e-9)) + np.float32(1e-12))
    return energy, freq, purity.astype(np.float32), side_db.astype(np.float32)


_WINDOW = np.hanning(FRAME_SAMPLES + 1)[:FRAME_SAMPLES].astype(np.float32)  # periodic Hann


class AmdBank:
    """AMD state for many channels in numpy arrays; `step` advances a set of them.

    Slots are handed out by `open()` and returned with `close()`. Each `step(slots,
    frames)` advances the listed slots by one 20 ms frame (row i of `frames` belongs
    to `slots[i]`) and returns ``(slot, event)`` pairs in slot order.
    """

    # Per-slot state, one numpy array per field (see _STATE_FIELDS), created by _grow.
    _open: npt.NDArray[np.bool_]
    _frames: npt.NDArray[np.int64]
    _floor: npt.NDArray[np.float32]
    _silence_ms: npt.NDArray[np.int64]
    _voice_ms: npt.NDArray[np.int64]
    _consec_ms: npt.NDArray[np.int64]
    _words: npt.NDArray[np.int64]
    _in_word: npt.NDArray[np.bool_]
    _in_initial: npt.NDArray[np.bool_]
    _in_greeting: npt.NDArray[np.bool_]
    _decided: npt.NDArray[np.bool_]
    _new: npt.NDArray[np.bool_]
    _cause: npt.NDArray[np.int8]
    _decided_ms: npt.NDArray[np.int64]
    _run_len: npt.NDArray[np.int64]
    _run_gap: npt.NDArray[np.int64]
    _run_freq: npt.NDArray[np.float32]
    _run_energy: npt.NDArray[np.float32]
    _peak: npt.NDArray[np.float32]
    _run_start: npt.NDArray[np.int64]
    _run_flag: npt.NDArray[np.int8]
    _fax_seen: npt.NDArray[np.bool_]


    def __init__(self, config: AmdConfig | None = None, capacity: int = 16) -> None:
        self.config = config if config is not None else AmdConfig()
        self._peak_decay = 10 ** (-self.config.peak_decay_db_per_s * FRAME_MS / 1000 / 20)
        if capacity < 1:
            raise AmdError(f"capacity must be >= 1, got {capacity}")
        self._capacity = 0
        self._free: list[int] = []
        self._grow(capacity)

    # -- slot management ------------------------------------------------------------
    def _grow(self, capacity: int) -> None:
        old = self._capacity
        for name, dtype in (("_open", bool), *_STATE_FIELDS):
            arr: npt.NDArray[Any] = np.zeros(capacity, dtype)
            if old:
                arr[:old] = getattr(self, name)
            setattr(self, name, arr)
        self._free.extend(range(capacity - 1, old - 1, -1))
        self._capacity = capacity

    def open(self) -> int:
        """Allocate a slot with fresh state (analysis starts at its first frame)."""
        if not self._free:
            self._grow(self._capacity * 2)
        slot = self._free.pop()
        self._open[slot] = True
        self._reset(slot)
        return slot

    def close(self, slot: int) -> None:
        self._check_slot(slot)
        self._open[slot] = False
        self._free.append(slot)

    def _check_slot(self, slot: int) -> None:
        if not (0 <= slot < self._capacity) or not self._open[slot]:
            raise AmdError(f"AMD slot {slot} is not open")

    def _reset(self, slot: int) -> None:
        for name, _ in _STATE_FIELDS:
            getattr(self, name)[slot] = 0
        self._floor[slot] = -1.0  # "unset": the first frame initialises it
        self._in_initial[slot] = True
        self._run_freq[slot] = 0.0

    @property
    def open_slots(self) -> int:
        return int(self._open.sum())

    def decision(self, slot: int) -> AmdDecision | None:
        self._check_slot(slot)
        if not self._decided[slot]:
            return None
        cause = _CAUSES[int(self._cause[slot]) - 1]
        return AmdDecision(result=_RESULT_OF.get(cause, AmdResult.MACHINE), cause=cause,
                           at_s=int(self._decided_ms[slot]) / 1000.0,
                           words=int(self._words[slot]), voice_ms=int(self._voice_ms[slot]),
                           silence_ms=int(self._silence_ms[slot]))

    def give_up(self, slot: int) -> AmdDecision | None:
        """Decide NOTSURE ``NOAUDIO`` now if still undecided (audio stopped coming);
        returns that decision, or None if the slot had already decided."""
        self._check_slot(slot)
        if self._decided[slot]:
            return None
        one = np.array([slot], np.intp)
        self._decide_sorted(one, np.array([True]), NOAUDIO,
                            np.array([int(self._frames[slot]) * FRAME_MS]))
        self._new[slot] = False
        return self.decision(slot)

    def elapsed_s(self, slot: int) -> float:
        self._check_slot(slot)
        return int(self._frames[slot]) * FRAME_MS / 1000.0

    # -- the per-frame step -----------------------------------------------------------
    def step(self, slots: Sequence[int] | npt.NDArray[np.integer],
             frames: npt.NDArray[np.int16]) -> list[tuple[int, AmdEvent]]:
        s = np.asarray(slots, dtype=np.intp)
        if s.ndim != 1:
            raise AmdError("slots must be a 1-D sequence of slot numbers")
        if not isinstance(frames, np.ndarray) or frames.dtype != np.int16:
            raise AmdError("frames must be a numpy int16 array")
        if frames.shape != (s.size, FRAME_SAMPLES):
            raise AmdError(f"frames must have shape ({s.size}, {FRAME_SAMPLES}), "
                           f"got {frames.shape}")
        if s.size == 0:
            return []
        if s.min() < 0 or s.max() >= self._capacity or not self._open[s].all():
            bad = [int(x) for x in s if not (0 <= x < self._capacity) or not self._open[x]]
            raise AmdError(f"AMD slot(s) not open: {bad[:5]}")
        if np.unique(s).size != s.size:
            raise AmdError("a slot appears twice in one step")
        cfg = self.config
        energy, freq, purity, side_db = frame_features(frames)
        events: list[tuple[int, AmdEvent]] = []

        frame_no = self._frames[s] + 1
        self._frames[s] = frame_no
        now_ms = frame_no * FRAME_MS

        # Adaptive noise floor: follow energy down at once, creep up slowly.
        floor = self._floor[s]
        e1 = np.maximum(energy, 1.0)
        floor = np.where(floor < 0, e1, np.minimum(floor * (1.0 + cfg.noise_floor_rise), e1))
        self._floor[s] = floor
        above_floor = energy >= np.maximum(cfg.silence_threshold, cfg.noise_ratio * floor)
        loud = above_floor
        if cfg.peak_gate_db > 0:
            peak = np.maximum(self._peak[s] * np.float32(self._peak_decay), energy)
            self._peak[s] = peak
            loud = loud & (energy >= peak * np.float32(10 ** (-cfg.peak_gate_db / 20)))
        # Tones need only clear the noise floor: a beep may be quieter than the speech.
        strong = above_floor & (purity >= cfg.tone_purity) & (side_db <= cfg.tone_max_side_db)
        weak = above_floor & (purity >= cfg.tone_hold_purity) & (
            side_db <= cfg.tone_hold_side_db)

        tonal = self._tones(s, strong, weak, freq, energy, frame_no, events)

        und = ~self._decided[s]
        if und.any():
            self._words_step(s, und, loud & ~tonal, ~loud & ~tonal, now_ms)
        self._collect(s, events)
        return events

    def _words_step(self, s: npt.NDArray[np.intp], und: npt.NDArray[np.bool_],
                    voice: npt.NDArray[np.bool_], quiet: npt.NDArray[np.bool_],
                    now_ms: npt.NDArray[np.int64]) -> None:
        cfg = self.config
        # Silence branch.
        qs = s[und & quiet]
        qt = now_ms[und & quiet]
        if qs.size:
            sil = self._silence_ms[qs] + FRAME_MS
            self._silence_ms[qs] = sil
            ends = sil >= cfg.between_words_silence_ms
            self._in_word[qs[ends]] = False
            self._consec_ms[qs[ends]] = 0
            self._decide_sorted(qs, self._in_initial[qs] & (sil >= cfg.initial_silence_ms),
                                INITIALSILENCE, qt)
            self._decide_sorted(qs, self._in_greeting[qs] & (sil >= cfg.after_greeting_silence_ms),
                                HUMAN, qt)
            if cfg.short_greeting_ms:
                short = (self._in_greeting[qs] & (self._voice_ms[qs] <= cfg.short_greeting_ms)
                         & (sil >= cfg.short_greeting_silence_ms))
                self._decide_sorted(qs, short, HUMAN, qt)
        # Voice branch.
        vmask = und & voice
        vs = s[vmask]
        vt = now_ms[vmask]
        if vs.size:
            consec = self._consec_ms[vs] + FRAME_MS
            voice_ms = self._voice_ms[vs] + FRAME_MS
            self._consec_ms[vs] = consec
            self._voice_ms[vs] = voice_ms
            opens = (consec >= cfg.min_word_length_ms) & ~self._in_word[vs]
            self._words[vs[opens]] += 1
            self._in_word[vs[opens]] = True
            words = self._words[vs]
            self._decide_sorted(vs, words >= cfg.maximum_number_of_words, MAXWORDS, vt)
            self._decide_sorted(vs, self._in_greeting[vs] & (voice_ms >= cfg.greeting_ms),
                                LONGGREETING, vt)
            self._decide_sorted(vs, consec >= cfg.maximum_word_length_ms, MAXWORDLENGTH, vt)
            started = voice_ms >= cfg.min_word_length_ms
            self._in_initial[vs[started]] = False
            self._in_greeting[vs[started]] = True
            self._silence_ms[vs] = 0
        # Tonal frames are neither; the analysis-time limit applies to all.
        left = und & ~self._decided[s]
        self._decide_sorted(s, left & (now_ms >= cfg.total_analysis_time_ms), TOOLONG, now_ms)

    def _decide_sorted(self, slots: npt.NDArray[np.intp], mask: npt.NDArray[np.bool_],
                       cause: str, now_ms: npt.NDArray[np.int64]) -> None:
        hit = slots[mask]
        if hit.size == 0:
            return
        times = now_ms[mask]
        fresh = ~self._decided[hit]
        hit, times = hit[fresh], times[fresh]
        self._decided[hit] = True
        self._new[hit] = True
        self._cause[hit] = _CAUSES.index(cause) + 1
        self._decided_ms[hit] = times

    def _tones(self, s: npt.NDArray[np.intp], strong: npt.NDArray[np.bool_],
               weak: npt.NDArray[np.bool_],
               freq: npt.NDArray[np.float32], energy: npt.NDArray[np.float32],
               frame_no: npt.NDArray[np.int64],
               events: list[tuple[int, AmdEvent]]) -> npt.NDArray[np.bool_]:
        """Advance the tone runs; returns which frames belong to one."""
        cfg = self.config
        run = self._run_len[s]
        if not (strong.any() or run.any()):
            return strong
        rfreq = self._run_freq[s]
        gap = self._run_gap[s]
        # Same tone: steady frequency and steady level (a beep is; a vowel is not).
        renergy = self._run_energy[s]
        steady = np.abs(np.log(np.maximum(energy, 1.0) / np.maximum(renergy, 1.0))) <= (
            cfg.tone_level_tolerance_db * np.log(10) / 20)
        same = weak & (run > 0) & (np.abs(freq - rfreq) <= cfg.tone_tolerance_hz) & steady
        # A run ends when a different tone starts or after two non-tonal frames.
        ending = (run > 0) & ~same & (strong | (gap >= 1))
        for i in np.flatnonzero(ending):
            self._end_run(int(s[i]), int(frame_no[i]), events)
        starting = strong & ~same
        cont = same
        idle = ~same & ~starting & ~ending & (run > 0)
        # Update arrays for this subset.
        run = np.where(ending, 0, run)
        run = np.where(cont, run + 1, run)
        run = np.where(starting, 1, run)
        gap = np.where(idle, gap + 1, 0)
        # Running mean of the run's frequency, so slow drift inside tolerance is fine.
        inv = 1.0 / np.maximum(run, 1)
        rfreq = np.where(starting, freq, np.where(cont, rfreq + (freq - rfreq) * inv, rfreq))
        renergy = np.where(starting, energy,
                           np.where(cont, renergy + (energy - renergy) * inv, renergy))
        self._run_energy[s] = renergy
        self._run_len[s] = run
        self._run_gap[s] = gap
        self._run_freq[s] = rfreq
        start_frame = self._run_start[s]
        self._run_start[s] = np.where(starting, frame_no - 1, start_frame)
        self._run_flag[s] = np.where(starting, 0, self._run_flag[s])
        # Fax tones and beeps decided while the tone still sounds.
        run_ms = run * FRAME_MS
        now_ms = frame_no * FRAME_MS
        is_ced = np.abs(rfreq - cfg.ced_hz) <= cfg.ced_tolerance_hz
        is_cng = np.abs(rfreq - cfg.cng_hz) <= cfg.cng_tolerance_hz
        fax_ced = cont & is_ced & (run_ms >= cfg.ced_min_ms) & (self._run_flag[s] == 0)
        fax_cng = cont & is_cng & (run_ms >= cfg.cng_min_ms) & (self._run_flag[s] == 0)
        for mask, name, cause in ((fax_ced, "CED", FAX_CED), (fax_cng, "CNG", FAX_CNG)):
            for i in np.flatnonzero(mask):
                slot = int(s[i])
                self._run_flag[slot] = 1  # fax: no beep event for this run
                if not self._fax_seen[slot]:
                    self._fax_seen[slot] = True
                    events.append((slot, FaxToneDetected(
                        tone=name, start_s=int(self._run_start[slot]) * FRAME_MS / 1000.0,
                        at_s=int(now_ms[i]) / 1000.0, frequency_hz=round(float(rfreq[i]), 1))))
                self._decide_sorted(np.array([slot]), np.array([True]), cause,
                                    np.array([now_ms[i]]))
        # A beep-length run outside the CNG band decides MACHINE at once; near 1100 Hz
        # wait: it is either a beep (decided when it ends) or a fax CNG.
        beep_frames = max(1, -(-cfg.beep_min_ms // FRAME_MS) - 1)  # one frame of slack
        if cfg.beep_decides:
            in_band = (rfreq >= cfg.beep_min_hz) & (rfreq <= cfg.beep_max_hz)
            beepish = (run >= beep_frames) & in_band & ~is_cng & ~is_ced & ~self._decided[s]
            if beepish.any():
                self._decide_sorted(s, beepish, BEEP, now_ms)
        in_run: npt.NDArray[np.bool_] = cont | starting
        return in_run

    def _end_run(self, slot: int, frame_no: int, events: list[tuple[int, AmdEvent]]) -> None:
        """A tone run just ended at the start of frame `frame_no` (1-based): beep?"""
        cfg = self.config
        run = int(self._run_len[slot])
        f = float(self._run_freq[slot])
        beep_frames = max(1, -(-cfg.beep_min_ms // FRAME_MS) - 1)
        if (run >= beep_frames and self._run_flag[slot] == 0
                and cfg.beep_min_hz <= f <= cfg.beep_max_hz):
            start = int(self._run_start[slot])
            end_ms = (start + run) * FRAME_MS
            events.append((slot, BeepDetected(start_s=start * FRAME_MS / 1000.0,
                                              end_s=end_ms / 1000.0,
                                              frequency_hz=round(f, 1))))
            if cfg.beep_decides and not self._decided[slot]:
                self._decide_sorted(np.array([slot]), np.array([True]), BEEP,
                                    np.array([(frame_no - 1) * FRAME_MS]))
        self._run_len[slot] = 0
        self._run_gap[slot] = 0

    def _collect(self, s: npt.NDArray[np.intp], events: list[tuple[int, AmdEvent]]) -> None:
        new = s[self._new[s]]
        for slot in new:
            d = self.decision(int(slot))
            assert d is not None
            events.append((int(slot), d))
        self._new[new] = False
        events.sort(key=lambda e: e[0])


_STATE_FIELDS: tuple[tuple[str, npt.DTypeLike], ...] = (
    ("_frames", np.int64),
    ("_floor", np.float32),
    ("_silence_ms", np.int64),
    ("_voice_ms", np.int64),
    ("_consec_ms", np.int64),
    ("_words", np.int64),
    ("_in_word", bool),
    ("_in_initial", bool),
    ("_in_greeting", bool),
    ("_decided", bool),
    ("_new", bool),
    ("_cause", np.int8),
    ("_decided_ms", np.int64),
    ("_run_len", np.int64),
    ("_run_gap", np.int64),
    ("_run_freq", np.float32),
    ("_run_energy", np.float32),
    ("_peak", np.float32),
    ("_run_start", np.int64),
    ("_run_flag", np.int8),
    ("_fax_seen", bool),

)


class AmdDetector:
    """One channel: feed int16 audio in pieces of any size, get `AmdEvent`s back.

    `start` is the wall time analysis began (any clock); `get_timer()` returns the
    deadline after which `handle_timer(now)` gives NOTSURE ``NOAUDIO`` when too little
    audio arrived to decide (RTP stopped), so the dialer is never left waiting.
    """

    def __init__(self, config: AmdConfig | None = None, *, start: float = 0.0) -> None:
        self._bank = AmdBank(config, capacity=1)
        self._slot = self._bank.open()
        self._slots = np.array([self._slot], np.intp)
        self._buf = np.zeros(0, np.int16)
        self._start = start
        self._events: list[AmdEvent] = []

    @property
    def config(self) -> AmdConfig:
        return self._bank.config

    @property
    def decision(self) -> AmdDecision | None:
        return self._bank.decision(self._slot)

    @property
    def elapsed_s(self) -> float:
        return self._bank.elapsed_s(self._slot)

    def feed(self, pcm: Pcm | bytes) -> list[AmdEvent]:
        """Analyse more audio (int16 array, or little-endian 16-bit bytes)."""
        if isinstance(pcm, bytes | bytearray | memoryview):
            if len(pcm) % 2:
                raise AmdError("PCM bytes must hold whole 16-bit samples")
            pcm = np.frombuffer(pcm, "<i2").astype(np.int16)
        if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
            raise AmdError("audio must be a 1-D numpy int16 array or bytes")
        buf = np.concatenate([self._buf, pcm]) if self._buf.size else pcm
        n = buf.size // FRAME_SAMPLES
        out: list[AmdEvent] = []
        for i in range(n):
            frame = buf[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES].reshape(1, FRAME_SAMPLES)
            out.extend(ev for _, ev in self._bank.step(self._slots, frame))
        self._buf = buf[n * FRAME_SAMPLES :].copy()
        return out

    def get_timer(self) -> float | None:
        if self.decision is not None:
            return None
        cfg = self.config
        return self._start + (cfg.total_analysis_time_ms + cfg.no_audio_grace_ms) / 1000.0

    def handle_timer(self, now: float) -> list[AmdEvent]:
        deadline = self.get_timer()
        if deadline is None or now < deadline:
            return []
        d = self._bank.give_up(self._slot)
        return [d] if d is not None else []


def analyse(pcm: Pcm, config: AmdConfig | None = None) -> tuple[AmdDecision | None,
                                                                 list[AmdEvent]]:
    """Run a whole recording through a detector; returns (decision, all events)."""
    det = AmdDetector(config)
    events = det.feed(pcm)
    return det.decision, events
