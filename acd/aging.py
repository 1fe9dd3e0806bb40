"""Priority aging: an interaction's effective priority as a function of waiting time.

`Aging` is a continuous, non-decreasing, piecewise-linear function f(w) of the
seconds waited, given as segments ``(start_s, slope_per_s)``; the first segment starts
at 0 and f(0) = 0. The effective priority is ``base_priority + f(w)``.

Why piecewise linear: inside one segment every interaction of a queue grows at the
same slope s, so ``base + F_k + s * (now - join - t_k)`` can be rewritten as a
time-invariant key ``K = base + F_k - s * (join + t_k)`` plus ``s * now``. A heap
ordered by K therefore stays ordered as time passes; an interaction only has to move
when it crosses into the next segment (a breakpoint, scheduled on the timer heap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from acd.model import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class Aging:
    """Segments ``((0, s0), (t1, s1), ...)``: slope s_k (priority/second) from t_k on."""

    segments: tuple[tuple[float, float], ...] = ((0.0, 0.0),)

    def __post_init__(self) -> None:
        if not self.segments or self.segments[0][0] != 0:
            raise ConfigError("aging: the first segment must start at 0 s")
        prev = -1.0
        for start, slope in self.segments:
            if not (math.isfinite(start) and math.isfinite(slope)):
                raise ConfigError("aging: segment start and slope must be finite")
            if start <= prev:
                raise ConfigError("aging: segment starts must increase")
            if slope < 0:
                raise ConfigError("aging: slopes must be >= 0 (priority never falls)")
            prev = start

    @classmethod
    def none(cls) -> Aging:
        return cls()

    @classmethod
    def linear(cls, *, step: float = 1.0, every_s: float = 30.0, cap: float | None = None) -> Aging:
        """``+step`` every ``every_s`` seconds (continuously), capped at ``+cap``."""
        if every_s <= 0 or step < 0:
            raise ConfigError("aging: every_s must be > 0 and step >= 0")
        slope = step / every_s
        if cap is None or slope == 0:
            return cls(segments=((0.0, slope),))
        if cap <= 0:
            return cls()
        return cls(segments=((0.0, slope), (cap / slope, 0.0)))

    # offsets F_k = f(t_k), computed on demand (segments are few)
    def offset(self, k: int) -> float:
        total = 0.0
        segs = self.segments
        for i in range(k):
            total += segs[i][1] * (segs[i + 1][0] - segs[i][0])
        return total

    def segment_at(self, w: float) -> int:
        segs = self.segments
        k = 0
        while k + 1 < len(segs) and segs[k + 1][0] <= w:
            k += 1
        return k

    def value(self, w: float) -> float:
        if w <= 0:
            return 0.0
        k = self.segment_at(w)
        start, slope = self.segments[k]
        return self.offset(k) + slope * (w - start)

    @property
    def maximum(self) -> float:
        """sup f (infinite when the last slope is positive)."""
        if self.segments[-1][1] > 0:
            return math.inf
        return self.offset(len(self.segments) - 1)

    def wait_for(self, v: float) -> float:
        """Smallest w >= 0 with f(w) >= v (inf if f never reaches v)."""
        if v <= 0:
            return 0.0
        segs = self.segments
        for k, (start, slope) in enumerate(segs):
            base = self.offset(k)
            end = segs[k + 1][0] if k + 1 < len(segs) else math.inf
            if slope > 0:
                w = start + (v - base) / slope
                if w <= end:
                    return max(w, start)
        return math.inf

    def wait_beyond(self, v: float) -> float:
        """sup{w >= 0 : f(w) <= v}: f(w) > v exactly when w is past this (-inf if
        f(0) > v already, inf if f never exceeds v)."""
        if v < 0:
            return -math.inf
        segs = self.segments
        for k, (start, slope) in enumerate(segs):
            base = self.offset(k)
            end = segs[k + 1][0] if k + 1 < len(segs) else math.inf
            at_end = base + slope * (end - start) if end < math.inf else (
                math.inf if slope > 0 else base)
            if at_end <= v:
                continue
            if slope == 0:
                return start
            return max(start, start + (v - base) / slope)
        return math.inf
