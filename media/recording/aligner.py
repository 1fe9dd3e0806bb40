"""Two legs -> one stereo timeline, sans-I/O: where each decoded frame lands in the file.

Theory of operation
-------------------
The timeline counts 8 kHz samples from the recording's start (media time `start`).
Each leg (0 = caller = left, 1 = callee = right) is *anchored* by its first frame: the
frame goes where its arrival time says (``(arrival - start) * 8000 - len(frame)``), and
from then on every frame goes where its RTP timestamp says relative to the anchor
(timestamps unwrapped across 2^32). Timestamps, not arrival times, place the audio, so
network jitter and reordering (a frame arriving after later ones) do not move it.

Frames are written into a small pending buffer; `pull(now)` hands out everything older
than ``now - hold_back`` and forgets it. The default 200 ms covers 3 reordered 20 ms
packets even at the very start of a stream (a leg anchored by a frame that overtook
three others puts those 120 ms behind their arrival) plus 80 ms of jitter.

Anything never filled is silence: a lost frame, or a leg that sends nothing (DTX, on
hold, not yet answered), becomes zeros of the right length — gaps are filled, never
dropped, so both legs stay in step with the wall clock. Where audio meets such a gap,
2 ms raised-cosine ramps are applied so the gap does not click. (If the media path
conceals loss upstream — G.711 PLC in the jitter buffer — the writer simply receives
the concealed frames and never sees the gap.)

Re-anchoring keeps a leg honest with the wall clock:

- the RTP timestamp jumps (new SSRC after a transfer, a phone restart): the frame is
  more than 250 ms ahead of or 1 s behind where its arrival puts it -> re-anchor at
  its arrival (never before what was already handed out);
- a leg's *newest* frame lands before what was already handed out (its clock is slow,
  or its packets got later): re-anchor at the hand-out point — a "slip" of a few ms;
- an *old* frame (reordered beyond the hold-back) arriving too late is dropped and
  counted in `late_frames`.

Costs: `push` is a few integer operations and one numpy slice assignment; `pull` does
the copy-out, one mask test, and ramps only where there are gaps.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]

RATE = 8000
RAMP = 16  # 2 ms fade at gap edges
_RAMP_UP = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, RAMP + 2)[1:-1])).astype(np.float32)
_RAMP_DOWN = _RAMP_UP[::-1].copy()


class _Leg:
    __slots__ = ("anchored", "anchor_ext", "anchor_pos", "last_ts", "last_ext", "last_n",
                 "highest_ext")

    def __init__(self) -> None:
        self.anchored = False
        self.anchor_ext = 0  # unwrapped RTP ts of the anchor
        self.anchor_pos = 0  # its timeline position
        self.last_ts = 0  # raw 32-bit ts of the newest frame (unwrap reference)
        self.last_ext = 0
        self.last_n = 0
        self.highest_ext = 0


class StereoAligner:
    """Place per-leg frames on a common timeline; `pull` yields (n, 2) int16 blocks."""

    def __init__(self, start: float, *, hold_back: float = 0.2,
                 ahead_limit: float = 0.25, behind_limit: float = 1.0) -> None:
        self.start = start
        self.hold_back = hold_back
        self.ahead_limit = round(ahead_limit * RATE)
        self.behind_limit = round(behind_limit * RATE)
        self.base = 0  # timeline position of buffer row 0 = samples handed out so far
        self.buf = np.zeros((RATE, 2), np.int16)
        self.mask = np.zeros((RATE, 2), np.bool_)
        self.filled_end = 0  # timeline end of the furthest frame placed
        self.legs = (_Leg(), _Leg())
        self.prev_filled = [False, False]  # was the last handed-out sample audio, per leg
        self.late_frames = 0
        self.reanchors = 0

    def push(self, leg: int, pcm: Pcm, rtp_ts: int | None, arrival: float) -> bool:
        """Place one decoded frame of leg 0 (caller) or 1 (callee); False if dropped late."""
        n = len(pcm)
        if n == 0:
            return True
        lg = self.legs[leg]
        base = self.base
        arr = round((arrival - self.start) * RATE) - n  # where its arrival puts it
        if not lg.anchored:
            pos = arr if arr > base else base
            self._anchor(lg, rtp_ts if rtp_ts is not None else 0, pos, n)
        else:
            ts = rtp_ts if rtp_ts is not None else (lg.last_ts + lg.last_n) & 0xFFFFFFFF
            ext = lg.last_ext + ((ts - lg.last_ts + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            pos = lg.anchor_pos + ext - lg.anchor_ext
            if pos - arr > self.ahead_limit or arr - pos > self.behind_limit:
                pos = arr if arr > base else base
                self._anchor(lg, ts, pos, n)
                self.reanchors += 1
            elif pos < base:
                if ext <= lg.highest_ext:
                    self.late_frames += 1  # reordered past the hold-back: too late
                    return False
                pos = base  # newest frame, slot already out: slip
                self._anchor(lg, ts, pos, n)
                self.reanchors += 1
            elif ext > lg.highest_ext:
                lg.last_ts = ts
                lg.last_ext = lg.highest_ext = ext
                lg.last_n = n
        off = pos - base
        end = off + n
        if end > len(self.buf):
            self._grow(end)
        self.buf[off:end, leg] = pcm
        self.mask[off:end, leg] = True
        if pos + n > self.filled_end:
            self.filled_end = pos + n
        return True

    def _anchor(self, lg: _Leg, ts: int, pos: int, n: int) -> None:
        lg.anchored = True
        lg.anchor_ext = lg.last_ext = lg.highest_ext = ts
        lg.anchor_pos = pos
        lg.last_ts = ts
        lg.last_n = n

    def _grow(self, need: int) -> None:
        size = max(need, 2 * len(self.buf))
        buf = np.zeros((size, 2), np.int16)
        mask = np.zeros((size, 2), np.bool_)
        buf[: len(self.buf)] = self.buf
        mask[: len(self.mask)] = self.mask
        self.buf, self.mask = buf, mask

    def horizon(self, now: float) -> int:
        """Timeline position up to which audio is final at `now`."""
        return round((now - self.hold_back - self.start) * RATE)

    def pull(self, now: float) -> Pcm:
        """Everything older than `now - hold_back`, as an (n, 2) int16 block (maybe empty)."""
        return self._take(self.horizon(now) - self.base)

    def pull_all(self, now: float) -> Pcm:
        """At the end: everything placed, and silence up to `now`."""
        end = max(self.filled_end, round((now - self.start) * RATE))
        return self._take(end - self.base)

    def _take(self, n: int) -> Pcm:
        if n <= 0:
            return np.zeros((0, 2), np.int16)
        if n > len(self.buf):
            self._grow(n)
        mask = self.mask[:n]
        if not mask.all():
            self._ramp_gaps(n)
        out = self.buf[:n].copy()
        self.prev_filled = [bool(mask[-1, 0]), bool(mask[-1, 1])]
        rest = max(0, min(len(self.buf), self.filled_end - self.base) - n)
        # Shift the still-pending rows down and clear the rows they leave behind.
        self.buf[:rest] = self.buf[n : n + rest]
        self.mask[:rest] = self.mask[n : n + rest]
        self.buf[rest : rest + n] = 0
        self.mask[rest : rest + n] = False
        self.base += n
        return out

    def _ramp_gaps(self, n: int) -> None:
        """Fade audio out before and in after each silent gap in rows [0, n)."""
        for ch in (0, 1):
            m = self.mask[:n, ch]
            if not m.any():
                continue
            prev = np.concatenate(([self.prev_filled[ch]], m[:-1]))
            for i in np.flatnonzero(m & ~prev):  # gap -> audio: fade in
                if i == 0 and not self.base:
                    continue  # the very start of the recording: nothing to click against
                seg = self.buf[i : i + RAMP, ch]
                seg[:] = (seg * _RAMP_UP[: len(seg)]).astype(np.int16)
            nxt = np.concatenate((m[1:], [bool(self.mask[n, ch]) if n < len(self.mask)
                                          else False]))
            for i in np.flatnonzero(m & ~nxt):  # audio -> gap: fade out
                lo = max(0, i + 1 - RAMP)
                seg = self.buf[lo : i + 1, ch]
                seg[:] = (seg * _RAMP_DOWN[RAMP - len(seg) :]).astype(np.int16)
