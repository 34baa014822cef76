"""In-process measurements, each run by benchmarks/run.py in a fresh process
(so that one measurement's objects never weigh on the next) and printed as
one JSON document on stdout.

    python benchmarks/probes.py lookups URL
    python benchmarks/probes.py memory URL fullcache|objects|seed
    python benchmarks/probes.py warm-memory URL tracemalloc|rss
    python benchmarks/probes.py guards URL

The table is the one ``FULLCACHE_BENCH_TABLE`` names (see bench_models).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
import tracemalloc
from typing import Any, Callable, Dict, List

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

import bench_models
from bench_models import BenchItem
from seed_style import SeedCache

# -- lookups -------------------------------------------------------------------


def _loop(lookup: Callable[[Any, Any], Any], session: Session, ids: List[Any], passes: int) -> int:
    """Nanoseconds for ``passes`` rounds of ``lookup(session, id)`` over ``ids``:
    one clock read around the whole loop, none per call."""
    clock = time.perf_counter_ns
    started = clock()
    for _ in range(passes):
        for row_id in ids:
            lookup(session, row_id)
    return clock() - started


def _interleaved_ns(candidates: Dict[str, tuple], ids: List[Any], rounds: int, slice_s: float) -> dict:
    """ns per lookup of each candidate ``name -> (lookup, session)``: ``rounds``
    rounds, each timing every candidate once for about ``slice_s``, in turn,
    so that whatever else the machine does falls on all of them alike. Median
    and min over the rounds. The garbage collector is off while timing (as
    timeit does)."""
    passes = {}
    for name, (lookup, session) in candidates.items():
        n = 1
        while _loop(lookup, session, ids, n) < slice_s * 1e9 / 4:
            n *= 2
        passes[name] = n * 4
    per_call: Dict[str, List[float]] = {name: [] for name in candidates}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, (lookup, session) in candidates.items():
                per_call[name].append(_loop(lookup, session, ids, passes[name]) / (passes[name] * len(ids)))
    finally:
        gc.enable()
    return {name: {"median_ns": statistics.median(values), "min_ns": min(values), "rounds": rounds,
                   "calls_per_round": passes[name] * len(ids)}
            for name, values in per_call.items()}


def _check(obj: Any, session: Session, row_id: Any) -> None:
    if obj is None or obj.id != row_id or obj not in session:
        raise SystemExit(f"lookup of id {row_id} returned {obj!r}, not an object of the caller's session")


def lookups(url: str, samples: int, rounds: int, slice_s: float) -> dict:
    engine = create_engine(url)
    warming = Session(engine)
    BenchItem.populate_cache(warming)
    id_cache = BenchItem._id_cache
    keys = sorted(id_cache)
    step = max(1, len(keys) // samples)
    ids = keys[::step][:samples]

    seed_warming = Session(engine)
    seed = SeedCache(BenchItem)
    seed.populate(seed_warming)
    fullcache_by_id = BenchItem.by_id
    seed_by_id = seed.by_id

    def dict_get(_session, row_id, get=id_cache.get):
        return get(row_id)

    result: dict = {"samples": len(ids), "rows": len(keys)}

    # 1. The caller's session is the one that warmed the cache.
    for row_id in ids:
        _check(fullcache_by_id(warming, row_id), warming, row_id)
        _check(seed_by_id(seed_warming, row_id), seed_warming, row_id)
    timed = _interleaved_ns({"fullcache": (fullcache_by_id, warming), "seed": (seed_by_id, seed_warming),
                             "dict_get": (dict_get, warming)}, ids, rounds, slice_s)
    result["dict_get"] = timed.pop("dict_get")
    result["same_session"] = timed

    # 2. Another session, repeated lookups. One pass first: fullcache merges
    # on a session's first lookup of a row; the seed's merged copies are held
    # (``keep``) so that its later merges find them in the identity map, the
    # seed at its best.
    other, seed_other = Session(engine), Session(engine)
    first = Session(engine)
    started = time.perf_counter_ns()
    keep = [fullcache_by_id(first, row_id) for row_id in ids]
    first_ns = (time.perf_counter_ns() - started) / len(ids)
    first.close()
    keep = [fullcache_by_id(other, row_id) for row_id in ids] + [seed_by_id(seed_other, row_id) for row_id in ids]
    for row_id in ids:
        _check(fullcache_by_id(other, row_id), other, row_id)
        _check(seed_by_id(seed_other, row_id), seed_other, row_id)
    result["other_session"] = _interleaved_ns({"fullcache": (fullcache_by_id, other), "seed": (seed_by_id, seed_other)},
                                              ids, rounds, slice_s)
    result["other_session"]["fullcache_first_lookup_ns"] = first_ns
    del keep
    for session in (warming, seed_warming, other, seed_other):
        session.close()
    engine.dispose()
    return result


# -- memory --------------------------------------------------------------------


def memory(url: str, mode: str) -> dict:
    """Bytes still allocated (tracemalloc) once the table is held in memory
    and the loading session is closed: by fullcache's caches, by the seed's
    two dicts, or as the ORM objects alone in one list."""
    engine = create_engine(url)
    with Session(engine) as session:  # compile both statements, open the pool's connection
        session.execute(select(BenchItem).limit(1)).all()
        session.query(BenchItem).limit(1).all()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    with Session(engine) as session:
        if mode == "fullcache":
            BenchItem.populate_cache(session)
            held: Any = None
            rows = len(BenchItem._id_cache)
        elif mode == "seed":
            held = SeedCache(BenchItem)
            held.populate(session)
            rows = len(held.id_cache)
        else:
            held = session.query(BenchItem).all()
            rows = len(held)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"mode": mode, "rows": rows, "retained_bytes": current - before, "peak_bytes": peak - before,
            "retained_per_row": (current - before) / rows, "tracer": "tracemalloc"}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def warm_memory(url: str, tracer: str) -> dict:
    """Peak during ``fullcache_cli.warm(url, models)`` against what stays
    allocated after it returns (the caches stay populated)."""
    import fullcache_cli
    from fullcache_cli import database, memory as _memory, render, reports, timing, warming  # noqa: F401

    database.open_database(url).dispose()  # the dialect's imports, outside the measurement
    gc.collect()
    if tracer == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = _rss_bytes()
    started = time.perf_counter()
    warm_report = fullcache_cli.warm(url, bench_models)
    seconds = time.perf_counter() - started
    gc.collect()
    model = warm_report.models[0]
    if model.status != "ok" or model.cached_ids != model.rows:
        raise SystemExit(f"warm did not cache every row: {model.to_json()}")
    if tracer == "tracemalloc":
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    else:
        current = _rss_bytes()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rows = model.rows
    return {"tracer": tracer, "rows": rows, "retained_bytes": current - before, "peak_bytes": peak - before,
            "retained_per_row": (current - before) / rows, "peak_per_row": (peak - before) / rows,
            "warm_seconds_report": model.warm_seconds, "warm_call_seconds": seconds,
            "report_memory_bytes": model.memory_bytes}


# -- guards ----------------------------------------------------------------------


def guards(url: str, rounds: int) -> dict:
    """Seconds for the model's populate through a plain engine, through
    fullcache's read-only engine (its statement hook, SQLite's authorizer and
    ``mode=ro``, PostgreSQL's read-only session), and through that engine
    with a statement timeout (SQLite: the progress handler): rounds
    interleaved, median and min of each."""
    from sqlalchemy import event

    from fullcache_cli.database import open_database

    plain = create_engine(url)
    if plain.dialect.name == "sqlite":

        @event.listens_for(plain, "connect")
        def _connect(dbapi_connection, record):
            dbapi_connection.isolation_level = None  # as fullcache's engine

        @event.listens_for(plain, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN")

    engines = {
        "plain": plain,
        "guarded": open_database(url).engine,
        "guarded_timeout": open_database(url, statement_timeout=3600).engine,
    }
    seconds: Dict[str, List[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, engine in engines.items():
            with engine.connect() as connection:
                session = Session(bind=connection)
                BenchItem.reset_cache()
                started = time.perf_counter()
                BenchItem.populate_cache(session)
                seconds[name].append(time.perf_counter() - started)
                rows = len(BenchItem._id_cache)
                session.close()
                connection.rollback()
            BenchItem.reset_cache()
            gc.collect()
    out: dict = {"rows": rows, "rounds": rounds}
    for name, values in seconds.items():
        out[name] = {"median_s": statistics.median(values), "min_s": min(values)}
    for name in ("guarded", "guarded_timeout"):
        out[f"{name}_ratio"] = out[name]["median_s"] / out["plain"]["median_s"]
    return out


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="probe", required=True)
    p = sub.add_parser("lookups")
    p.add_argument("url")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=25, help="timed rounds (median)")
    p.add_argument("--slice", type=float, default=0.05, help="seconds per candidate per round")
    p = sub.add_parser("memory")
    p.add_argument("url")
    p.add_argument("mode", choices=["fullcache", "objects", "seed"])
    p = sub.add_parser("warm-memory")
    p.add_argument("url")
    p.add_argument("tracer", choices=["tracemalloc", "rss"])
    p = sub.add_parser("guards")
    p.add_argument("url")
    p.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    if args.probe == "lookups":
        out = lookups(args.url, args.samples, args.rounds, args.slice)
    elif args.probe == "memory":
        out = memory(args.url, args.mode)
    elif args.probe == "guards":
        out = guards(args.url, args.rounds)
    else:
        out = warm_memory(args.url, args.tracer)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
