"""Timing of in-process micro-benchmarks, shared by the bench scripts."""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable


def time_case(func: Callable[[], object], repeat: int, target_s: float) -> tuple[float, float]:
    """Median and min per-call time in microseconds over `repeat` timing runs."""
    timer = timeit.Timer(func)
    number = 1
    while True:  # calibrate: enough calls per run to last about target_s
        if timer.timeit(number) >= target_s / 4:
            break
        number *= 2
    number = max(1, int(number * 4 * target_s / max(timer.timeit(number), 1e-9)))
    runs = [t / number * 1e6 for t in timer.repeat(repeat=repeat, number=number)]
    return statistics.median(runs), min(runs)
