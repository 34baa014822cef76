"""warm's lookup timings on a shared, noisy machine: a model whose lookups
were slow only while load came and went is not a slow_hit (the suspicion is
timed again with the series taking turns); one whose lookups are always
slower than a primary-key query still is."""

from __future__ import annotations

import time

import fullcache_cli
from fullcache_cli.timing import time_alternating
from tests.apps import fill_named, named_models
from tests.helpers import filled

Base = named_models("lookup_timing")
SLOW = 0.005  # seconds a slow lookup takes: many times a primary-key query
BURST = 25  # lookups slowed down: all of the first series, none after warm's


class Burst(Base):
    """Slow for its first BURST lookups, as fast as any after: load that came
    and went while warm timed its first series."""

    calls = 0

    @classmethod
    def by_id(cls, _db, id):
        Burst.calls += 1
        if Burst.calls <= BURST:
            time.sleep(SLOW)
        return super().by_id(_db, id)


class Slow(Base):
    """Always slow: slower than the database however it is timed."""

    @classmethod
    def by_id(cls, _db, id):
        time.sleep(SLOW)
        return super().by_id(_db, id)


MODELS = [Burst, Slow]


def test_a_burst_of_load_is_not_a_slow_hit_and_a_slow_model_is(database_url):
    filled(database_url, lambda engine: fill_named(engine, Base, MODELS, ids=range(1, 101)))
    Burst.calls = 0
    try:
        report = fullcache_cli.warm(database_url, MODELS)
    finally:
        for model in MODELS:
            model.reset_cache()

    assert [(p.model, p.kind) for p in report.problems()] == [("Slow", "slow_hit")]
    burst = {m.model: m for m in report.models}["Burst"].lookups
    assert burst.first_hit_p50_us < burst.db_p50_us and burst.cache_p50_us < burst.db_p50_us
    assert Burst.calls > BURST  # the burst was over when the turns were timed


def test_alternating_calls_take_turns_and_stop_after_a_whole_turn():
    order = []
    timings = time_alternating(
        [lambda n: order.append(("a", n)), lambda n: order.append(("b", n))], range(10), time.perf_counter(), 3,
    )
    assert order == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert [len(series) for series in timings] == [3, 3]
    assert all(series == sorted(series) for series in timings)
