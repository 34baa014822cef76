"""fullcache_cli.verify on large tables: memory stays bounded, time follows
the table.

    python benchmarks/verify.py                               # SQLite, 100,000 and 1,000,000 rows
    python benchmarks/verify.py --database postgresql         # a throwaway cluster, removed afterwards
    python benchmarks/verify.py --sizes 100000,1000000 --drift 0.001

For each size, in a fresh process: the table (bench_models) is loaded into
the caches with populate_cache; then verify is timed, against a plain
streaming read of the same table as ORM objects (the baseline, same run);
then verify runs again under tracemalloc, started after the caches were
filled, so that its peak is verify's own memory and nothing of the caches.
The same again after drift: a fraction ``--drift`` of the rows deleted,
another with its key changed, as many inserted, all committed by another
connection after the caches were filled (every list is then non-empty, and
the cached ids are looked for in the table).

Bounded means: verify's own peak is about the same at every size (it holds
a batch of rows and its findings, never the table), while the caches grow
with the rows.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def probe(url: str, drift: float) -> Dict[str, Any]:
    """One size, in this (fresh) process."""
    from sqlalchemy import create_engine, func, select, text
    from sqlalchemy.orm import Session

    import fullcache_cli
    from bench_models import TABLE, BenchItem
    from fullcache_cli.memory import estimate_cache_bytes

    engine = create_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        BenchItem.populate_cache(session)
    populate_s = time.perf_counter() - started
    rows = len(BenchItem._id_cache)
    result: Dict[str, Any] = {
        "rows": rows,
        "populate_s": populate_s,
        "cache_bytes_estimate": estimate_cache_bytes(BenchItem._id_cache, BenchItem._cache),
    }

    def plain_stream() -> float:
        started = time.perf_counter()
        with Session(engine) as session:
            for _ in session.execute(select(BenchItem).execution_options(yield_per=1000)).scalars():
                pass
        return time.perf_counter() - started

    def measured(label: str) -> None:
        gc.collect()
        result[f"{label}_stream_s"] = plain_stream()
        started = time.perf_counter()
        report = fullcache_cli.verify(url, [BenchItem])
        result[f"{label}_verify_s"] = time.perf_counter() - started
        result[f"{label}_counts"] = report.models[0].counts()
        del report
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        report = fullcache_cli.verify(url, [BenchItem])
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result[f"{label}_verify_peak_bytes"] = peak - base
        result[f"{label}_report_bytes"] = current - base  # what the findings hold
        del report

    measured("clean")
    if drift:
        every = max(2, round(1 / drift))
        with engine.begin() as connection:
            top = connection.execute(select(func.max(BenchItem.id))).scalar()
            connection.execute(text(f"DELETE FROM {TABLE} WHERE id % {every} = 1"))
            connection.execute(text(f"UPDATE {TABLE} SET code = code || '-moved' WHERE id % {every} = 2"))
            connection.execute(
                text(
                    f"INSERT INTO {TABLE} (id, namespace, code, priority, description) "
                    f"SELECT id + {top}, namespace, code || '-new', priority, description FROM {TABLE} "
                    f"WHERE id % {every} = 3"
                )
            )
        measured("drift")
    engine.dispose()
    return result


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url")
    parser.add_argument("--sizes", default="100000,1000000", help="row counts [100000,1000000]")
    parser.add_argument("--drift", type=float, default=0.001, help="fraction deleted, moved and inserted [0.001]")
    parser.add_argument("--probe", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(args.probe, args.drift)))
        return 0

    from harness import PYTHON, Databases, checked, run_process, say

    sizes = [int(part.replace("_", "")) for part in args.sizes.split(",") if part.strip()]
    db = Databases(args.database, args.database_url)
    results = []
    try:
        for rows in sizes:
            db.ensure(rows)
            say(f"verify of {rows:,} rows (clean, then {args.drift:g} drift)")
            run = checked(
                run_process([PYTHON, str(Path(__file__)), "--probe", db.url, "--drift", str(args.drift)], db.env(rows)),
                "the verify probe",
            )
            db.filled.pop(rows, None)  # the drift changed it
            results.append(json.loads(run.stdout))
    finally:
        db.cleanup()
    print(f"fullcache verify benchmark: {args.database} ({db.description})")
    print("| rows | populate | plain stream | verify (clean) | ratio | verify peak (clean) | verify (drift) | "
          "ratio | verify peak (drift) | findings | caches (estimate) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        mib = 1024 * 1024
        drift_counts = r.get("drift_counts", {})
        print(
            f"| {r['rows']:,} | {r['populate_s']:.1f} s | {r['clean_stream_s']:.1f} s | {r['clean_verify_s']:.1f} s "
            f"| {r['clean_verify_s'] / r['clean_stream_s']:.2f}x | {r['clean_verify_peak_bytes'] / mib:.1f} MiB "
            f"| {r.get('drift_verify_s', 0):.1f} s | {r.get('drift_verify_s', 0) / r.get('drift_stream_s', 1):.2f}x "
            f"| {r.get('drift_verify_peak_bytes', 0) / mib:.1f} MiB | {sum(drift_counts.values()):,} "
            f"| {r['cache_bytes_estimate'] / mib:,.0f} MiB |"
        )
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
