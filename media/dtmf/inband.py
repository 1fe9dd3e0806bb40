"""In-band DTMF detection: a Goertzel bank in numpy, batched across channels.

Theory of operation
-------------------
Audio (int16, 8 kHz) arrives per media tick as a (channels x samples) matrix. Every
5 ms (`HOP` = 40 samples) a 20 ms window (`WIN` = 160 samples, rectangular) is
analysed: all windows of all channels of one tick are stacked into one matrix and
multiplied by a fixed basis of cosines and sines — one matrix product computes the
Goertzel (single-bin DFT) value of the 8 DTMF frequencies and of the second harmonics
of the 4 high-group ones, for every window of every channel. 20 ms is the shortest
rectangular window whose spectral leakage separates neighbouring low-group tones
(73 Hz apart: -13 dB).

Each window is then judged, vectorised:

- the strongest bin of each group gives the candidate pair;
- frequency: the phase advance of each bin between consecutive windows (5 ms apart)
  measures the tone's offset from nominal to about 1 Hz. Q.24 asks that ±1.5 % be
  accepted and ±3.5 % rejected; the limit used is the midpoint, ±2.5 %
  (`freq_tolerance`). The measured offset also corrects each tone's energy for the
  bin's sinc response, so a detuned tone is not mistaken for a weak one;
- level: each tone at least `min_level_dbm0` (-30 dBm0);
- twist: high group at most 8 dB above the low group ("normal" twist) and at most
  4 dB below it ("reverse" twist);
- signal-to-other energy: the two tones must hold at least 80 % of the window's
  energy (6 dB above everything else). Speech and music spread their energy over many
  harmonics and formants and fail this; so does a window only partly filled by a tone
  (with a rectangular window the fraction equals the filled fraction);
- second harmonic: the high tone's second harmonic must be 20 dB below it (a voiced
  sound whose harmonics happen to hit a DTMF pair carries its overtones too).

A window passing all checks is "strong" for one digit. Per channel, a small state
machine (run in Python only for channels that have a strong window or an open digit)
groups strong windows into digits:

- duration is measured, not counted: for a rectangular window the low tone's bin
  magnitude is proportional to the part of the window the tone fills, and every
  sample of a tone is covered by WIN/HOP windows, so duration = HOP x the sum of the
  windows' fill fractions (magnitude / the digit's peak magnitude). This gives the
  duration to about a millisecond, which is what separates a 30 ms blip (rejected)
  from a 40 ms digit (Q.24: must be accepted); the threshold is `min_tone_ms` = 35;
- a digit starts (`DigitStarted`) as soon as its running duration reaches
  `min_tone_ms`, about 45 ms after its onset;
- an interruption of up to about 20 ms (packet loss concealed as silence, a bad
  contact) is bridged; `end_gap_windows` (9) windows without the digit — a pause of
  at least about 40 ms, Q.24's minimum inter-digit pause — end it (`DigitEnded`, with
  the onset refined as the fill-weighted centre of its windows minus half the
  duration; a bridged interruption is not counted in the duration). Another
  digit's strong window ends it at once.

Single-channel (`InbandDetector`) and batched (`DtmfDetectorBank`) detection are the
same code: the single-channel detector is a bank of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from media.dtmf.errors import DtmfValueError
from media.dtmf.events import DigitEnded, DigitEvent, DigitStarted
from media.dtmf.tones import HIGH_GROUP, KEYPAD, LOW_GROUP, SAMPLE_RATE, amplitude

FS = SAMPLE_RATE
WIN = 160  # analysis window: 20 ms
HOP = 40  # a window every 5 ms
TAIL = WIN - HOP  # samples kept from the previous tick
HISTORY = WIN // HOP  # windows that can overlap a tone's onset before its first strong one
_FREQS = np.array(LOW_GROUP + HIGH_GROUP + tuple(2 * f for f in HIGH_GROUP))
_FUND = 8  # the first 8 columns are the DTMF frequencies
_DIGIT_OF_CODE = [KEYPAD[c // 4][c % 4] for c in range(16)]  # code = 4 * row + column

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
_CHUNK = 64  # windows per matrix product


def _basis() -> F64:
    n = np.arange(WIN)[:, None]
    arg = 2 * np.pi * _FREQS[None, :] * n / FS
    b = np.empty((WIN, 2 * len(_FREQS)), np.float64)
    b[:, 0::2] = np.cos(arg)
    b[:, 1::2] = -np.sin(arg)
    return b


_BASIS = _basis()
_NFREQ = len(_FREQS)
_NCOL = 2 * _NFREQ
# the inverse of the phase a nominal tone advances by in one hop
_ROT_RE = np.cos(2 * np.pi * _FREQS[:_FUND] * HOP / FS)
_ROT_IM = -np.sin(2 * np.pi * _FREQS[:_FUND] * HOP / FS)


@dataclass(frozen=True, slots=True, kw_only=True)
class InbandConfig:
    """Detection limits (defaults as described in the module docstring)."""

    freq_tolerance: float = 0.025  # accept |offset| <= 2.5 % (Q.24: 1.5 % in, 3.5 % out)
    min_level_dbm0: float = -30.0  # per tone
    normal_twist_db: float = 8.0  # high group louder than low by at most this
    reverse_twist_db: float = 4.0  # low group louder than high by at most this
    min_signal_to_other_db: float = 6.0  # the pair vs everything else in the window
    harmonic_db: float = 20.0  # high tone's 2nd harmonic at least this far below it
    min_tone_ms: float = 35.0  # decision threshold on the measured duration
    end_gap_windows: int = 9  # windows (5 ms each) without the digit that end it

    def __post_init__(self) -> None:
        if not (0 < self.freq_tolerance < 0.1 and self.normal_twist_db >= 0
                and self.reverse_twist_db >= 0 and self.min_tone_ms > 0
                and self.end_gap_windows >= 1 and self.min_signal_to_other_db > -10):
            raise DtmfValueError(f"bad in-band detector configuration: {self}")


class _Digit:
    """A digit in progress on one channel."""

    __slots__ = ("code", "row", "times", "mags", "strong", "gap", "started", "at")

    def __init__(self, code: int) -> None:
        self.code = code
        self.row = code // 4
        self.times: list[float] = []  # end time of each window since (just before) onset
        self.mags: list[float] = []  # low tone's bin magnitude in each
        self.strong: list[float] = []  # magnitudes in the strong windows
        self.gap = 0  # consecutive windows without the digit
        self.started = False
        self.at = 0.0


class DtmfDetectorBank:
    """In-band DTMF detectors for many channels, advanced together once per tick.

    `open()` allocates a channel slot, `close(slot)` frees it. `process(frames, now,
    slots)` analyses one tick: `frames` is an int16 matrix (rows x samples, samples a
    multiple of 40), row i holding the audio of `slots[i]` (rows 0..n-1 = slots
    0..n-1 when omitted); `now` is the time of each row's last sample (one float, or
    one per row). It returns `(slot, event)` pairs. A slot must get all its audio,
    lost packets concealed, in order. Alternatively `push(slot, pcm, now)` audio of
    any length as it is decoded and call `run()` once per tick.
    """

    def __init__(self, capacity: int = 16, config: InbandConfig | None = None) -> None:
        self.config = config or InbandConfig()
        c = self.config
        self._min_energy = amplitude(c.min_level_dbm0) ** 2 * WIN / 2
        self._min_fraction = 1.0 / (1.0 + 10 ** (-c.min_signal_to_other_db / 10))
        self._harmonic = 10 ** (-c.harmonic_db / 10)
        self._cap = 0
        self._tail = np.zeros((0, TAIL), np.float64)
        self._prev = np.zeros((0, 2 * _FUND), np.float64)  # last window's bins (re, im)
        self._hist = np.zeros((0, HISTORY, 4), np.float32)  # last windows' low magnitudes
        self._digits: list[_Digit | None] = []
        self._pending: dict[int, list[npt.NDArray[np.int16]]] = {}  # push()ed audio
        self._pending_n: dict[int, int] = {}
        self._pending_t: dict[int, float] = {}
        self._active = np.zeros(0, bool)  # slots with a digit in progress
        self._open = np.zeros(0, bool)
        self._free: list[int] = []
        self._grow(max(1, capacity))

    def _grow(self, cap: int) -> None:
        extra = cap - self._cap
        self._tail = np.vstack([self._tail, np.zeros((extra, TAIL), np.float64)])
        self._prev = np.vstack([self._prev, np.zeros((extra, 2 * _FUND), np.float64)])
        self._hist = np.concatenate([self._hist, np.zeros((extra, HISTORY, 4), np.float32)])
        self._digits.extend([None] * extra)
        self._active = np.concatenate([self._active, np.zeros(extra, bool)])
        self._open = np.concatenate([self._open, np.zeros(extra, bool)])
        self._free.extend(range(cap - 1, self._cap - 1, -1))
        self._cap = cap

    def open(self) -> int:
        """A fresh channel slot."""
        if not self._free:
            self._grow(2 * self._cap)
        slot = self._free.pop()
        self._open[slot] = True
        self._tail[slot] = 0
        self._prev[slot] = 0
        self._hist[slot] = 0
        self._digits[slot] = None
        self._active[slot] = False
        return slot

    def close(self, slot: int) -> None:
        """Free a slot (a digit in progress is dropped)."""
        if not 0 <= slot < self._cap or not self._open[slot]:
            raise DtmfValueError(f"slot {slot} is not open")
        self._open[slot] = False
        self._digits[slot] = None
        self._active[slot] = False
        self._pending.pop(slot, None)
        self._pending_n.pop(slot, None)
        self._pending_t.pop(slot, None)
        self._free.append(slot)

    def push(self, slot: int, pcm: npt.NDArray[np.int16], now: float) -> None:
        """Buffer decoded audio of any length for `slot` (`now`: the time of its last
        sample) — e.g. from a decoder's tap, packet by packet. `run()` analyses it."""
        if not 0 <= slot < self._cap or not self._open[slot]:
            raise DtmfValueError(f"slot {slot} is not open")
        if pcm.ndim != 1:
            raise DtmfValueError("pcm must be one-dimensional")
        self._pending.setdefault(slot, []).append(pcm.astype(np.int16, copy=False))
        self._pending_n[slot] = self._pending_n.get(slot, 0) + len(pcm)
        self._pending_t[slot] = now

    def run(self, frame: int = 160) -> list[tuple[int, DigitEvent]]:
        """Analyse the pushed audio: every slot with at least `frame` samples buffered
        contributes `frame` of them to one batched `process`, repeated while any slot
        has a whole frame left. Call once per media tick."""
        if frame <= 0 or frame % HOP:
            raise DtmfValueError(f"frame must be a positive multiple of {HOP}")
        out: list[tuple[int, DigitEvent]] = []
        while True:
            ready = [s for s, k in self._pending_n.items() if k >= frame and self._open[s]]
            if not ready:
                return out
            rows = np.empty((len(ready), frame), np.int16)
            nows = np.empty(len(ready), np.float64)
            for i, slot in enumerate(ready):
                data = np.concatenate(self._pending[slot])
                rows[i] = data[:frame]
                rest = data[frame:]
                self._pending[slot] = [rest]
                self._pending_n[slot] = len(rest)
                nows[i] = self._pending_t[slot] - len(rest) / FS
            out += self.process(rows, nows, ready)

    @property
    def open_slots(self) -> list[int]:
        return [s for s in range(self._cap) if self._open[s]]

    def flush(self, slot: int, now: float) -> list[DigitEvent]:
        """End of the channel's audio: finish a digit in progress (if long enough)."""
        d = self._digits[slot]
        self._digits[slot] = None
        self._active[slot] = False
        if d is None:
            return []
        ev = self._finish(d)
        return [] if ev is None else [ev]

    # -- the tick -------------------------------------------------------------------------

    def process(self, frames: npt.NDArray[np.int16], now: float | npt.NDArray[np.float64],
                slots: Sequence[int] | npt.NDArray[np.intp] | None = None
                ) -> list[tuple[int, DigitEvent]]:
        if frames.ndim != 2 or frames.shape[1] % HOP or frames.shape[1] == 0:
            raise DtmfValueError(
                f"frames must be rows x (a multiple of {HOP}) samples, got {frames.shape}")
        rows, n = frames.shape
        idx = (np.arange(rows) if slots is None else np.asarray(slots, np.intp))
        if idx.shape != (rows,):
            raise DtmfValueError("one slot per row of frames")
        if rows == 0:
            return []
        nows = np.broadcast_to(np.asarray(now, np.float64), (rows,))
        if idx.min() < 0 or idx.max() >= self._cap or not self._open[idx].all():
            raise DtmfValueError("frames for a slot that is not open")
        if slots is not None and rows > 1 and len(np.unique(idx)) != rows:
            raise DtmfValueError("a slot appears twice in one tick")
        m = n // HOP
        total = rows * m
        chunks = -(-total // _CHUNK)
        buf = np.empty((rows, TAIL + n), np.float64)
        buf[:, :TAIL] = self._tail[idx]
        buf[:, TAIL:] = frames
        self._tail[idx] = buf[:, n:]
        # window j of a row is hops j .. j+3 of its buffer
        hops = buf.reshape(rows, m + TAIL // HOP, HOP)
        w = np.zeros((chunks * _CHUNK, WIN), np.float64)
        wv = w[:total].reshape(rows, m, WIN // HOP, HOP)
        for k in range(WIN // HOP):
            wv[:, :, k] = hops[:, k:k + m]
        # Goertzel values, real and imaginary parts interleaved. Fixed-size float64
        # chunks make a window's result independent of how many channels share the
        # product (BLAS picks other kernels for other shapes), so batched and
        # single-channel detection agree bit for bit.
        y = (w.reshape(chunks, _CHUNK, WIN) @ _BASIS).reshape(-1, _NCOL)[:total]
        # window energies: sums of squares per hop, added up WIN // HOP at a time
        sq = (hops * hops).sum(axis=2)
        energy = sq[:, 0:m].copy()
        for k in range(1, WIN // HOP):
            energy += sq[:, k:k + m]
        energy = energy.reshape(total)
        power = y[:, 0::2] ** 2 + y[:, 1::2] ** 2  # |X|^2, (total, _NFREQ)

        ar = np.arange(total)
        low = np.argmax(power[:, 0:4], axis=1)
        high = np.argmax(power[:, 4:8], axis=1) + 4
        p_low, p_high = power[ar, low], power[ar, high]

        # frequency offset of the picked bins from their phase advance over one hop;
        # `before` holds each window's predecessor's DTMF bins (re, im interleaved)
        before = np.empty((rows, m, 2 * _FUND), np.float64)
        before[:, 0] = self._prev[idx]
        y3 = y.reshape(rows, m, _NCOL)
        before[:, 1:] = y3[:, :-1, :2 * _FUND]
        self._prev[idx] = y3[:, -1, :2 * _FUND]
        before = before.reshape(total, 2 * _FUND)
        offsets = []
        for b in (low, high):
            xr, xi = y[ar, 2 * b], y[ar, 2 * b + 1]
            pr, pi = before[ar, 2 * b], before[ar, 2 * b + 1]
            zr = xr * pr + xi * pi  # x * conj(previous)
            zi = xi * pr - xr * pi
            rr, ri = _ROT_RE[b], _ROT_IM[b]  # times the nominal rotation's inverse
            off = np.arctan2(zi * rr + zr * ri, zr * rr - zi * ri) * (FS / (2 * np.pi * HOP))
            offsets.append(off)
        off_low, off_high = offsets
        scale = WIN / FS
        e_low = 2.0 * p_low / (WIN * np.maximum(np.sinc(off_low * scale) ** 2, 0.2))
        e_high = 2.0 * p_high / (WIN * np.maximum(np.sinc(off_high * scale) ** 2, 0.2))
        harmonic = 2.0 * power[ar, high + 4] / WIN
        c = self.config
        ok = (
            (np.abs(off_low) <= c.freq_tolerance * _FREQS[low])
            & (np.abs(off_high) <= c.freq_tolerance * _FREQS[high])
            & (e_low >= self._min_energy)
            & (e_high >= self._min_energy)
            & (e_high <= e_low * 10 ** (c.normal_twist_db / 10))
            & (e_low <= e_high * 10 ** (c.reverse_twist_db / 10))
            & (e_low + e_high >= self._min_fraction * energy)
            & (harmonic <= self._harmonic * e_high)
        ).reshape(rows, m)
        low = low.reshape(rows, m)
        high = high.reshape(rows, m) - 4
        power = power.reshape(rows, m, _NFREQ)
        code = np.where(ok, low * 4 + high, -1)
        low_mag = np.sqrt(power[:, :, 0:4]).astype(np.float32)

        # the per-channel state machines, only where something is going on
        busy = ok.any(axis=1)
        busy |= self._active[idx]
        out: list[tuple[int, DigitEvent]] = []
        if busy.any():
            hist = self._hist[idx]
            for r in np.flatnonzero(busy):
                slot = int(idx[r])
                row_now = float(nows[r])
                for ev in self._run(slot, code[r], low_mag[r], hist[r], row_now, n, m):
                    out.append((slot, ev))
        self._hist[idx] = np.concatenate([self._hist[idx], low_mag], axis=1)[:, -HISTORY:]
        return out

    def _run(self, slot: int, codes: npt.NDArray[np.intp], mags: F32, hist: F32,
             now: float, n: int, m: int) -> list[DigitEvent]:
        out: list[DigitEvent] = []
        d = self._digits[slot]
        step = HOP / FS
        for j in range(m):
            t_end = now - (n - (j + 1) * HOP) / FS
            c = int(codes[j])
            if d is not None and c >= 0 and c != d.code:  # another digit follows at once
                ev = self._finish(d)
                if ev is not None:
                    out.append(ev)
                d = None
            if d is None:
                if c < 0:
                    continue
                d = _Digit(c)
                # the windows just before the first strong one overlap the onset
                prior = np.concatenate([hist, mags[:j]], axis=0)[-HISTORY:]
                for k, row in enumerate(prior):
                    d.times.append(t_end - (len(prior) - k) * step)
                    d.mags.append(float(row[d.row]))
            mag = float(mags[j, d.row])
            d.times.append(t_end)
            d.mags.append(mag)
            if c == d.code:
                d.gap = 0
                d.strong.append(mag)
                if not d.started:
                    # running duration: HOP x fills counts each tone sample once per
                    # window over it; the newest WIN - HOP samples are not yet under
                    # all WIN / HOP windows, which the half-ramp term adds back
                    so_far = step * self._fill(d) + (WIN - HOP) / (2 * FS)
                    if so_far * 1000 >= self.config.min_tone_ms:
                        d.started = True
                        d.at = t_end - so_far
                        out.append(DigitStarted(digit=_DIGIT_OF_CODE[d.code], at=d.at,
                                                source="inband"))
            else:
                d.gap += 1
                if d.gap >= self.config.end_gap_windows:
                    ev = self._finish(d)
                    if ev is not None:
                        out.append(ev)
                    d = None
        self._digits[slot] = d
        self._active[slot] = d is not None
        return out

    @staticmethod
    def _fills(d: _Digit) -> list[float]:
        """Each window's fill fraction: its magnitude over a full window's, taken as
        the median of the strong windows (the maximum would be biased up by the
        ripple the other tone adds). Fractions under 0.1 are noise. Plain Python:
        the lists are a few dozen long at most."""
        strong = sorted(d.strong)
        k = len(strong)
        ref = 0.0 if k == 0 else (strong[k // 2] if k % 2
                                  else (strong[k // 2 - 1] + strong[k // 2]) / 2)
        if ref <= 0:
            return [0.0] * len(d.mags)
        out = []
        for v in d.mags:
            f = min(v / ref, 1.0)
            out.append(f if f >= 0.1 else 0.0)
        return out

    def _fill(self, d: _Digit) -> float:
        return sum(self._fills(d))

    def _finish(self, d: _Digit) -> DigitEnded | None:
        step = HOP / FS
        f = self._fills(d)
        total = sum(f)
        duration = step * total
        if not d.started and duration * 1000 < self.config.min_tone_ms:
            return None
        # the fill-weighted centre of the windows is the tone's centre
        half = WIN / (2 * FS)
        centre = (sum(fk * (t - half) for fk, t in zip(f, d.times, strict=True)) / total
                  if total > 0 else d.at)
        return DigitEnded(digit=_DIGIT_OF_CODE[d.code], at=centre - duration / 2,
                          duration_ms=int(round(duration * 1000)), source="inband")


class InbandDetector:
    """In-band DTMF detection on one channel: feed int16 audio of any length."""

    def __init__(self, config: InbandConfig | None = None) -> None:
        self._bank = DtmfDetectorBank(1, config)
        self._slot = self._bank.open()
        self._pending = np.zeros(0, np.int16)

    def feed(self, pcm: npt.NDArray[np.int16], now: float) -> list[DigitEvent]:
        """`pcm`: the next samples; `now`: the time of its last sample."""
        if pcm.ndim != 1:
            raise DtmfValueError("pcm must be one-dimensional")
        data = np.concatenate([self._pending, pcm.astype(np.int16, copy=False)])
        usable = len(data) - len(data) % HOP
        self._pending = data[usable:]
        if usable == 0:
            return []
        t = now - len(self._pending) / FS
        return [ev for _, ev in self._bank.process(data[None, :usable], t)]

    def flush(self, now: float) -> list[DigitEvent]:
        return self._bank.flush(self._slot, now)


def detect(pcm: npt.NDArray[np.int16], *, start: float = 0.0,
           config: InbandConfig | None = None) -> list[DigitEnded]:
    """All digits in a recording (`start` = time of its first sample): a convenience
    for tests and offline use."""
    det = InbandDetector(config)
    n = len(pcm)
    events = det.feed(pcm, start + n / FS)
    # trailing silence lets a digit at the very end finish as it would live
    tail = np.zeros(HOP * (config or InbandConfig()).end_gap_windows + WIN, np.int16)
    end = start + (n + len(tail)) / FS
    events += det.feed(tail, end) + det.flush(end)
    return [e for e in events if isinstance(e, DigitEnded)]
