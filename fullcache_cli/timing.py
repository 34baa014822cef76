"""Timing helpers: percentiles of per-call timings, in microseconds."""

from __future__ import annotations

import time
from typing import Callable, Iterable, List, Sequence


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    rank = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[rank]


def time_calls(call: Callable[[object], object], arguments: Iterable[object]) -> List[float]:
    """Microseconds each ``call(argument)`` took, sorted."""
    clock = time.perf_counter_ns
    timings = []
    for argument in arguments:
        started = clock()
        call(argument)
        timings.append((clock() - started) / 1000.0)
    timings.sort()
    return timings


def p50_p99(sorted_us: Sequence[float]) -> tuple[float, float]:
    return round(percentile(sorted_us, 0.5), 3), round(percentile(sorted_us, 0.99), 3)
