"""Timing helpers: percentiles of per-call timings, in microseconds."""

from __future__ import annotations

import itertools
import statistics
import time
from typing import Callable, Iterable, List, Optional, Sequence


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    rank = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[rank]


def time_calls(
    call: Callable[[object], object], arguments: Iterable[object], deadline: Optional[float] = None
) -> List[float]:
    """Microseconds each ``call(argument)`` took, sorted; the calls stop
    once ``deadline`` (a ``time.perf_counter()`` value) has passed."""
    clock = time.perf_counter_ns
    stop = None if deadline is None else int(deadline * 1e9)
    timings = []
    for argument in arguments:
        started = clock()
        call(argument)
        ended = clock()
        timings.append((ended - started) / 1000.0)
        if stop is not None and ended > stop:
            break
    timings.sort()
    return timings


def median_us(call: Callable[[object], object], argument: object, repeat: int) -> float:
    """The median microseconds of ``repeat`` calls of ``call(argument)``."""
    return round(statistics.median(time_calls(call, itertools.repeat(argument, repeat))), 3)


def p50_p99(sorted_us: Sequence[float]) -> tuple[float, float]:
    """The median and the 99th percentile of sorted timings, rounded."""
    return round(percentile(sorted_us, 0.5), 3), round(percentile(sorted_us, 0.99), 3)
