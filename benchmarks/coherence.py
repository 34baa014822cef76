"""Benchmark coherence across processes, on PostgreSQL.

    python benchmarks/coherence.py [--database-url URL] [--readers 3] [--commits 1000]
                                   [--output PATH]

Three figures, each against a baseline of the same run:

* invalidation latency: one writer commits ``--commits`` single-row updates
  (10 ms apart) while ``--readers`` reader processes follow them; for each
  commit and reader, the time from the writer's COMMIT returning to the
  reader's reset of the model (invalidated), and to its first lookup that
  returns the new row (fresh read: the reset, a reload in a transaction of
  its own, the lookup). p50 / p99 / max; target p99 <= 50 ms.
* trigger cost: a commit that updates one row of a table carrying the
  capture trigger, against the same commit on an identical table without
  it (rounds alternate; median per commit).
* hit path: ``by_id`` hits from a request session with coherence on against
  off (rounds alternate, the same model and rows); target: no measurable
  difference.

Without --database-url a throwaway cluster (tests/pgcluster.py) is started
and removed afterwards. A SIGSTOP'd reader for 30 s (``--stop-seconds``)
blocking no writer is checked at the end. Results: a table on stdout, JSON in
benchmarks/results/coherence.json (or --output).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def distribution(values):
    return {"n": len(values), "p50_ms": percentile(values, 50) * 1e3, "p99_ms": percentile(values, 99) * 1e3,
            "max_ms": max(values) * 1e3}


# -- the reader process ------------------------------------------------------------


def reader_main(url: str, out: str) -> None:
    """Follow the writer: on each reset, look the row up at once."""
    import threading

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from fullcache_cli import coherence
    from tests.apps.coherent import Genre

    engine = create_engine(url)
    handle = coherence.start(engine, [Genre], heartbeat=5.0)
    handle.wait_ready(30)
    reset = threading.Event()
    resets = []

    def on_reset(cls):
        resets.append(time.monotonic())
        reset.set()

    handle.watched.on_reset = on_reset
    session = Session(engine)
    Genre.by_id(session, 1)
    print("ready", flush=True)
    records = []
    stop_at = None
    while True:
        if not reset.wait(1.0):
            if stop_at is not None and time.monotonic() > stop_at:
                break
            if os.path.exists(out + ".done"):
                stop_at = time.monotonic() + 1.0
            continue
        reset.clear()
        reset_at = resets[-1]
        session.close()  # a new request
        name = Genre.by_id(session, 1).name
        records.append((reset_at, time.monotonic(), name))
    handle.stop()
    with open(out, "w") as stream:
        json.dump({"records": records, "resets": resets}, stream)


def poller_main(url: str, out: str) -> None:
    """Look the row up every 2 ms, as a busy process would, recording when
    each lookup began and what it returned."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from fullcache_cli import coherence
    from tests.apps.coherent import Genre

    engine = create_engine(url)
    handle = coherence.start(engine, [Genre], heartbeat=5.0)
    handle.wait_ready(30)
    session = Session(engine)
    Genre.by_id(session, 1)
    print("ready", flush=True)
    reads = []
    while not os.path.exists(out + ".done"):
        began = time.monotonic()
        reads.append((began, Genre.by_id(session, 1).name))
        session.close()  # the next lookup is another request's
        time.sleep(0.002)
    handle.stop()
    with open(out, "w") as stream:
        json.dump(reads, stream)


def writer_main(url: str, out: str, commits: str) -> None:
    """Bump the row's counter ``commits`` times; the row lock orders the
    writers, so the counter's values follow commit order."""
    import psycopg2
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    connection = psycopg2.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database)
    connection.autocommit = True
    cursor = connection.cursor()
    done = []
    for _ in range(int(commits)):
        cursor.execute("UPDATE coh_genres SET name = (name::int + 1)::text WHERE id = 1 RETURNING name")
        version = int(cursor.fetchone()[0])
        done.append((version, time.monotonic()))  # autocommit: returned after the COMMIT
        time.sleep(0.01)
    connection.close()
    with open(out, "w") as stream:
        json.dump(done, stream)


# -- the figures -----------------------------------------------------------------------


def stale_reads(url: str, writers: int, readers: int, commits: int, bound: float, workdir: Path) -> dict:
    """Reads that returned a row older than one whose COMMIT had returned
    ``bound`` seconds before the read began."""
    import psycopg2
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    connection = psycopg2.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database)
    connection.autocommit = True
    connection.cursor().execute("UPDATE coh_genres SET name = '0' WHERE id = 1")
    connection.close()
    read_outs = [str(workdir / f"poller{i}.json") for i in range(readers)]
    pollers = [subprocess.Popen([sys.executable, __file__, "--poller", url, out], stdout=subprocess.PIPE, text=True,
                                cwd=ROOT) for out in read_outs]
    for process in pollers:
        assert process.stdout.readline().strip() == "ready"
    say(f"stale reads: {writers} writers x {commits} commits, {readers} readers")
    write_outs = [str(workdir / f"writer{i}.json") for i in range(writers)]
    writing = [subprocess.Popen([sys.executable, __file__, "--writer", url, out, str(commits)], cwd=ROOT)
               for out in write_outs]
    for process in writing:
        process.wait(600)
    for out in read_outs:
        Path(out + ".done").touch()
    for process in pollers:
        process.wait(60)
    committed = sorted(tuple(item) for out in write_outs for item in json.loads(Path(out).read_text()))
    # The newest version whose COMMIT had returned by each moment.
    by_time = sorted((at, version) for version, at in committed)
    reads = [tuple(item) for out in read_outs for item in json.loads(Path(out).read_text())]
    stale = checked = 0
    import bisect

    times = [at for at, _ in by_time]
    newest, best = [], 0
    for _, version in by_time:
        best = max(best, version)
        newest.append(best)
    for began, name in reads:
        i = bisect.bisect_right(times, began - bound)
        if i == 0:
            continue
        checked += 1
        if int(name) < newest[i - 1]:
            stale += 1
    return {"writers": writers, "readers": readers, "commits": len(committed), "bound_ms": bound * 1e3,
            "reads_checked": checked, "stale_reads": stale}



def latency(url: str, readers: int, commits: int, workdir: Path) -> dict:
    import psycopg2
    from sqlalchemy.engine import make_url

    outs = [str(workdir / f"reader{i}.json") for i in range(readers)]
    processes = [
        subprocess.Popen([sys.executable, __file__, "--reader", url, out], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for out in outs
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    parsed = make_url(url)
    connection = psycopg2.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database)
    connection.autocommit = True
    cursor = connection.cursor()
    committed = []
    say(f"latency: {commits} commits, {readers} readers")
    for i in range(commits):
        cursor.execute("UPDATE coh_genres SET name = %s WHERE id = 1", (f"v{i}",))
        committed.append(time.monotonic())
        time.sleep(0.01)
    Path(outs[0] + ".done").touch()
    for out in outs[1:]:
        Path(out + ".done").touch()
    for process in processes:
        process.wait(120)
    connection.close()
    invalidated, fresh, missing = [], [], 0
    for out in outs:
        data = json.loads(Path(out).read_text())
        records = data["records"]
        resets = data["resets"]
        r = 0
        for i, at in enumerate(committed):
            # the first reset after this commit returned... (a reset can only
            # follow the commit it reports: notifications are sent at commit)
            first_reset = next((t for t in resets if t >= at), None)
            while r < len(records) and int(records[r][2][1:]) < i:
                r += 1
            if r == len(records) or first_reset is None:
                missing += 1
                continue
            invalidated.append(first_reset - at)
            fresh.append(max(0.0, records[r][1] - at))
    return {"commits": commits, "readers": readers, "missing": missing,
            "invalidated": distribution(invalidated), "fresh_read": distribution(fresh)}


def trigger_cost(url: str, commits: int, rounds: int = 5) -> dict:
    import psycopg2
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    connection = psycopg2.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database)
    connection.autocommit = True
    cursor = connection.cursor()
    cursor.execute("DROP TABLE IF EXISTS bench_plain; CREATE TABLE bench_plain (LIKE coh_genres INCLUDING ALL); "
                   "INSERT INTO bench_plain SELECT * FROM coh_genres")
    per = {"coh_genres": [], "bench_plain": []}
    for _ in range(rounds):
        for table in per:
            started = time.perf_counter()
            for i in range(commits):
                cursor.execute(f"UPDATE {table} SET name = %s WHERE id = 2", (f"t{i}",))
            per[table].append((time.perf_counter() - started) / commits)
    cursor.execute("DROP TABLE bench_plain")
    connection.close()
    with_trigger = statistics.median(per["coh_genres"])
    without = statistics.median(per["bench_plain"])
    return {"with_trigger_us": with_trigger * 1e6, "without_us": without * 1e6, "ratio": with_trigger / without}


def hit_path(url: str, rounds: int = 11, lookups: int = 200_000) -> dict:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from fullcache_cli import coherence
    from tests.apps.coherent import Genre

    engine = create_engine(url)
    ids = [1 + i % 3 for i in range(1000)]

    def loop() -> float:
        session = Session(engine)
        for id in ids:  # merged once into this request session
            Genre.by_id(session, id)
        by_id = Genre.by_id
        started = time.perf_counter_ns()
        for _ in range(lookups // len(ids)):
            for id in ids:
                by_id(session, id)
        elapsed = time.perf_counter_ns() - started
        session.close()
        return elapsed / lookups

    def off() -> float:
        Genre.reset_cache()
        warm = Session(engine)
        Genre.populate_cache(warm)
        warm.close()
        return loop()

    def on() -> float:
        handle = coherence.start(engine, [Genre], heartbeat=5.0)
        handle.wait_ready(30)
        try:
            return loop()
        finally:
            handle.stop()

    times = {"off": [], "on": []}
    for round in range(rounds):
        # Each goes first in turn, so that a drift of the machine favours neither.
        for name in (("off", "on") if round % 2 == 0 else ("on", "off")):
            times[name].append(off() if name == "off" else on())
    engine.dispose()
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    return {"off_ns": off, "on_ns": on, "ratio": on / off}


def stopped_reader(url: str, seconds: float, workdir: Path) -> dict:
    import psycopg2
    from sqlalchemy.engine import make_url

    out = str(workdir / "stopped.json")
    process = subprocess.Popen([sys.executable, __file__, "--reader", url, out], stdout=subprocess.PIPE, text=True,
                               cwd=ROOT)
    assert process.stdout.readline().strip() == "ready"
    parsed = make_url(url)
    connection = psycopg2.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database)
    connection.autocommit = True
    cursor = connection.cursor()
    os.kill(process.pid, signal.SIGSTOP)
    say(f"a reader stopped for {seconds:.0f} s")
    started = time.monotonic()
    slowest, commits = 0.0, 0
    while time.monotonic() - started < seconds:
        before = time.perf_counter()
        cursor.execute("UPDATE coh_genres SET name = %s WHERE id = 1", (f"s{commits}",))
        slowest = max(slowest, time.perf_counter() - before)
        commits += 1
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGCONT)
    Path(out + ".done").touch()
    process.wait(60)
    last = json.loads(Path(out).read_text())["records"][-1][2]
    connection.close()
    return {"seconds": seconds, "commits": commits, "slowest_commit_ms": slowest * 1e3,
            "reader_last_read": last, "coherent_after": last == f"s{commits - 1}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--poller", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--writer", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--database-url")
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--stop-seconds", type=float, default=30.0)
    parser.add_argument("--output", default=str(HERE / "results" / "coherence.json"))
    parser.add_argument("--bound", type=float, default=0.05, help="stale reads: seconds after COMMIT returns")
    parser.add_argument("--figures", default="latency,stale,trigger,hit,stop",
                        help="which figures to measure (comma-separated)")
    args = parser.parse_args()
    if args.reader or args.poller or args.writer:
        main_of = reader_main if args.reader else poller_main if args.poller else writer_main
        main_of(*(args.reader or args.poller or args.writer))
        return 0

    import tempfile

    from fullcache_cli.coherence_admin import install
    from fullcache_cli.loading import cached_model
    from tests.apps import coherent

    cluster = None
    url = args.database_url
    if url is None:
        from pgcluster import _ThrowawayCluster, create_database, find_postgres_bindir

        cluster = _ThrowawayCluster(find_postgres_bindir())
        url = create_database(cluster.start(), "coherence_bench")
    try:
        coherent.fill(url)
        install(url, [cached_model(coherent.Genre)])
        figures = set(args.figures.split(","))
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            if "latency" in figures:
                results["latency"] = latency(url, args.readers, args.commits, Path(tmp))
            if "stale" in figures:
                results["stale"] = stale_reads(url, 2, args.readers, args.commits // 2, args.bound, Path(tmp))
            if "trigger" in figures:
                results["trigger"] = trigger_cost(url, 500)
            if "hit" in figures:
                results["hit_path"] = hit_path(url)
            if "stop" in figures and args.stop_seconds:
                results["stopped_reader"] = stopped_reader(url, args.stop_seconds, Path(tmp))
    finally:
        if cluster is not None:
            cluster.stop()
    if "latency" in results:
        lat = results["latency"]
        print(f"invalidation latency, {lat['commits']} commits x {lat['readers']} readers "
              f"({lat['missing']} not matched):")
        for name in ("invalidated", "fresh_read"):
            d = lat[name]
            print(f"  {name:12} p50 {d['p50_ms']:.2f} ms  p99 {d['p99_ms']:.2f} ms  max {d['max_ms']:.2f} ms")
    if "stale" in results:
        st = results["stale"]
        print(f"stale reads, {st['writers']} writers x {st['readers']} readers, {st['commits']} commits: "
              f"{st['stale_reads']} of {st['reads_checked']:,} reads began {st['bound_ms']:.0f} ms or more after "
              "a newer COMMIT returned")
    if "trigger" in results:
        t = results["trigger"]
        print(f"commit of a one-row UPDATE: {t['with_trigger_us']:.0f} us with the trigger vs "
              f"{t['without_us']:.0f} us without: {t['ratio']:.2f}x")
    if "hit_path" in results:
        h = results["hit_path"]
        print(f"by_id hit from a request session: {h['on_ns']:.0f} ns coherence on vs {h['off_ns']:.0f} ns off: "
              f"{h['ratio']:.2f}x")
    if "stopped_reader" in results:
        s = results["stopped_reader"]
        print(f"reader SIGSTOP'd {s['seconds']:.0f} s: {s['commits']} commits, slowest {s['slowest_commit_ms']:.1f} ms; "
              f"coherent after SIGCONT: {s['coherent_after']}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
