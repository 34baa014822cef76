"""The collector pause around table loads: nests, overlaps across threads,
and leaves the collector as it found it."""

from __future__ import annotations

import gc
import threading

import pytest

from fullcache_cli.runtime.gcpause import gc_paused


@pytest.fixture
def collector_enabled():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_pauses_and_restores(collector_enabled):
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_end_with_the_outer_one(collector_enabled):
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restores_after_an_error(collector_enabled):
    with pytest.raises(ValueError):
        with gc_paused():
            raise ValueError("boom")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled(collector_enabled):
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_across_threads(collector_enabled):
    first_in = threading.Event()
    second_out = threading.Event()
    seen = []

    def first():
        with gc_paused():
            first_in.set()
            second_out.wait(10)
            seen.append(gc.isenabled())  # the second's exit must not re-enable

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(10)
    with gc_paused():
        pass
    second_out.set()
    thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_populate_runs_with_the_collector_paused(collector_enabled):
    from fullcache_cli.runtime import mixin

    states = []

    class Probe(mixin.HasFullTableCache):
        @classmethod
        def _stream_rows(cls, _db):
            states.append(gc.isenabled())
            return iter(())

    Probe.populate_cache(None)
    assert states == [False]
    assert gc.isenabled()
