"""Packet-loss concealment for waveform codecs (G.711), after ITU-T G.711 Appendix I.

A lost packet is replaced by repeating the last pitch period of the decoded history
(found by autocorrelation), so voiced speech carries on instead of dropping to zero —
the click and the gap are what a listener notices. The repetition fades: full level
for the first 10 ms, then 20 % less every further 10 ms, silence after 60 ms (a
longer loss is a gap, not a vowel). The first good packet after a loss is cross-faded
with the continuation of the concealment for a quarter of a pitch period (at least
1 ms), which removes the discontinuity at the junction.

Concealment uses only numpy: an autocorrelation over a 20 ms window per loss.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]

RATE = 8000
HISTORY = 390  # samples kept: the longest pitch (120) times 3 plus the search window
MIN_PITCH, MAX_PITCH = 40, 120  # 200 Hz .. 66 Hz at 8 kHz
CORRELATION_WINDOW = 160  # 20 ms compared when searching the pitch
FULL_LEVEL_SAMPLES = 80  # 10 ms at full level
FADE_STEP = 0.2  # per 10 ms after that
MAX_CONCEAL_SAMPLES = 480  # 60 ms, then silence


class Concealer:
    """Keeps a short decoded history; fills losses and smooths the recovery."""

    __slots__ = ("recent", "recent_samples", "history", "lost", "pitch", "position",
                 "pending_tail")

    def __init__(self) -> None:
        # The last decoded frames, by reference (no copy per packet): concatenated into
        # `history` only when a loss needs it.
        self.recent: deque[Pcm] = deque()
        self.recent_samples = 0
        self.history = np.zeros(HISTORY, np.float32)
        self.lost = 0  # samples concealed in the current loss
        self.pitch = MIN_PITCH
        self.position = 0  # where in the pitch period the repetition is
        self.pending_tail: npt.NDArray[np.float32] | None = None  # continuation to fade out

    def good(self, pcm: Pcm) -> Pcm:
        """A correctly received frame: smooth it in after a loss, remember it."""
        out = pcm
        if self.lost and self.pending_tail is not None and len(pcm):
            tail = self.pending_tail[: len(pcm)]
            ramp = np.linspace(0.0, 1.0, len(tail), endpoint=False, dtype=np.float32)
            mixed = pcm[: len(tail)].astype(np.float32) * ramp + tail * (1.0 - ramp)
            out = pcm.copy()
            out[: len(tail)] = np.clip(mixed, -32768, 32767).astype(np.int16)
        self.lost = 0
        self.pending_tail = None
        self._remember(out)
        return out

    def conceal(self, samples: int) -> Pcm:
        if self.lost == 0:
            self._collect_history()
            self.pitch = self._find_pitch()
            self.position = 0
        period = self.history[-self.pitch:]
        index = (self.position + np.arange(samples + self.pitch // 4)) % self.pitch
        wave = period[index]
        positions = self.lost + np.arange(len(wave))
        gain = np.clip(
            1.0 - FADE_STEP * ((positions - FULL_LEVEL_SAMPLES) // 80 + 1), 0.0, 1.0
        ).astype(np.float32)
        gain[positions < FULL_LEVEL_SAMPLES] = 1.0
        gain[positions >= MAX_CONCEAL_SAMPLES] = 0.0
        shaped = wave * gain
        self.position = int((self.position + samples) % self.pitch)
        self.lost += samples
        self.pending_tail = shaped[samples:]  # the continuation, for the cross-fade
        out: Pcm = np.clip(shaped[:samples], -32768, 32767).astype(np.int16)
        # The concealment itself is not history: the pitch must come from real speech.
        return out

    def _remember(self, pcm: Pcm) -> None:
        recent = self.recent
        recent.append(pcm)
        self.recent_samples += len(pcm)
        while self.recent_samples - len(recent[0]) >= HISTORY:
            self.recent_samples -= len(recent.popleft())

    def _collect_history(self) -> None:
        if not self.recent:
            return
        joined = np.concatenate(self.recent)[-HISTORY:].astype(np.float32)
        self.history = np.concatenate((np.zeros(HISTORY - len(joined), np.float32), joined))

    def _find_pitch(self) -> int:
        history = self.history
        target = history[-CORRELATION_WINDOW:]
        energy = float(np.dot(target, target))
        if energy < 1.0:
            return MIN_PITCH
        best, best_score = MIN_PITCH, -np.inf
        end = len(history)
        for lag in range(MIN_PITCH, MAX_PITCH + 1):
            candidate = history[end - CORRELATION_WINDOW - lag:end - lag]
            norm = float(np.dot(candidate, candidate))
            if norm <= 0.0:
                continue
            score = float(np.dot(target, candidate)) / np.sqrt(norm)
            if score > best_score:
                best, best_score = lag, score
        return best
