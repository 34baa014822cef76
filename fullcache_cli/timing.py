"""Timing helpers: percentiles of per-call timings, in microseconds.

Every timing is bounded twice: by a number of calls and by a time budget,
so that a model whose lookups take milliseconds (an application's mixin
that merges a large object graph on every hit, say) is timed on fewer
samples rather than for minutes.
"""

from __future__ import annotations

import itertools
import statistics
import time
from typing import Callable, Iterable, List, Optional, Sequence

# Seconds one series of timed calls may take by default (the first call
# always runs): see after().
TIME_BUDGET_SECONDS = 0.5


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    rank = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[rank]


def time_calls(
    call: Callable[[object], object],
    arguments: Iterable[object],
    deadline: Optional[float] = None,
    at_least: int = 1,
) -> List[float]:
    """Microseconds each ``call(argument)`` took, sorted; the calls stop
    once ``deadline`` (a ``time.perf_counter()`` value) has passed and
    ``at_least`` calls were made. Producing the next argument is not timed."""
    clock = time.perf_counter_ns
    stop = None if deadline is None else int(deadline * 1e9)
    timings = []
    for argument in arguments:
        started = clock()
        call(argument)
        ended = clock()
        timings.append((ended - started) / 1000.0)
        if stop is not None and ended > stop and len(timings) >= at_least:
            break
    timings.sort()
    return timings


def time_alternating(
    calls: Sequence[Callable[[object], object]],
    arguments: Iterable[object],
    deadline: Optional[float] = None,
    at_least: int = 1,
) -> List[List[float]]:
    """Microseconds of each of ``calls`` on each argument, the calls taking
    turns (all of them on one argument, then on the next), so that load that
    comes and goes weighs on each alike; one sorted list per call. Stops as
    :func:`time_calls` does, after a whole turn."""
    clock = time.perf_counter_ns
    stop = None if deadline is None else int(deadline * 1e9)
    timings: List[List[float]] = [[] for _ in calls]
    turns = 0
    for argument in arguments:
        for call, into in zip(calls, timings):
            started = clock()
            call(argument)
            into.append((clock() - started) / 1000.0)
        turns += 1
        if stop is not None and clock() > stop and turns >= at_least:
            break
    for into in timings:
        into.sort()
    return timings


def after(seconds: float = TIME_BUDGET_SECONDS) -> float:
    """The deadline ``seconds`` from now, for :func:`time_calls`."""
    return time.perf_counter() + seconds


def median_us(
    call: Callable[[object], object], argument: object, repeat: int, deadline: Optional[float] = None
) -> tuple[float, int]:
    """The median microseconds of up to ``repeat`` calls of
    ``call(argument)`` made before ``deadline``, and how many were made."""
    timings = time_calls(call, itertools.repeat(argument, repeat), deadline)
    return median_of(timings), len(timings)


def median_of(timings: Sequence[float]) -> float:
    """The median of timings, rounded."""
    return round(statistics.median(timings), 3)


def p50_p99(sorted_us: Sequence[float]) -> tuple[float, float]:
    """The median and the 99th percentile of sorted timings, rounded."""
    return round(percentile(sorted_us, 0.5), 3), round(percentile(sorted_us, 0.99), 3)


def ratio(slow: Optional[float], fast: Optional[float]) -> Optional[float]:
    """``slow / fast`` to three significant digits, or None when either is
    missing or zero (never a ratio rounded down to 0)."""
    if not slow or not fast:
        return None
    return float(f"{slow / fast:.3g}")


def human_us(us: Optional[float]) -> str:
    """Microseconds as people read them: ``3.2 µs``, ``1.25 ms``, ``-``."""
    if us is None:
        return "-"
    return f"{us:,.1f} µs" if us < 1000 else f"{us / 1000:,.2f} ms"
