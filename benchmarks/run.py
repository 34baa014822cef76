"""Benchmark fullcache against the seed's way of caching a whole table.

    python benchmarks/run.py [--rows 200000] [--database sqlite|postgresql]
                             [--database-url URL] [--curve 10000,100000[,1000000]]
                             [--curve-only] [--output PATH]

Everything is measured in one run on one machine, and every figure is a ratio
against a baseline of the same run:

* ``fullcache warm --json`` as a whole process, against a process that loads
  the same table the seed's way (benchmarks/seed_warm.py); medians of --runs.
* ``by_id`` hits, in the session that warmed the cache and from another
  session, against the seed's lookup (benchmarks/seed_style.py): ns per
  lookup, from a clock read around a loop of many lookups.
* memory retained per row by fullcache's caches, against the ORM objects
  alone in one list (tracemalloc, after the loading session is closed).
* peak memory during ``fullcache_cli.warm(url, models)`` against what stays
  allocated after it (tracemalloc).
* start-up of ``fullcache --help`` and ``fullcache models`` against
  ``python -c "import click"``; medians of --startup-runs.
* warm time per row (the report's ``warm_seconds``) at each --curve size,
  against itself at the smallest size.

With ``--app circulation``, instead: ``fullcache warm --json`` on a real
application's nine cached models (tests/apps/circulation.py: relationships,
joined eager collections, both mixins), wall clock and peak RSS, against a
process running the application's own populates in one session
(benchmarks/app_warm.py); medians of --runs.

SQLite uses a file in a temp dir; PostgreSQL uses --database-url (its tables
``bench_items_<rows>`` are dropped afterwards) or else a throwaway cluster
(tests/pgcluster.py) that is removed afterwards. Table fills are not timed.
The default run (200,000 rows, curve 10k/100k/200k) takes about 4 minutes on
two cores; ``--curve-only --curve 10000,100000,1000000`` about 6 more.

Results: a table on stdout and JSON in benchmarks/results/<database>-<rows>.json
(or --output). Exit status 0 whether or not targets are met (the table says);
1 if a measurement itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

CURVE_TOLERANCE = 1.2
SMALL_REPEATS = 5  # warms a curve round of a small size (see curve())

from harness import (  # noqa: E402
    FULLCACHE, HERE, MODELS, PYTHON, ROOT, STARTED, Databases, Run, checked, median, probe, run_process, say,
)

# -- figures -----------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    unit: str
    measured: float
    baseline: float
    baseline_name: str
    target: str  # for people
    max_ratio: Optional[float] = None  # met when measured / baseline <= max_ratio
    min_ratio: Optional[float] = None  # and >= min_ratio
    extra_condition: Optional[bool] = None  # met only if also true (None: not applicable)
    notes: str = ""
    details: Dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> Optional[bool]:
        if self.max_ratio is None and self.min_ratio is None:
            return None
        ok = True
        if self.max_ratio is not None:
            ok = ok and self.ratio <= self.max_ratio
        if self.min_ratio is not None:
            ok = ok and self.ratio >= self.min_ratio
        if self.extra_condition is not None:
            ok = ok and self.extra_condition
        return ok

    def to_json(self) -> dict:
        data = asdict(self)
        data["ratio"] = round(self.ratio, 4)
        data["met"] = self.met
        return data


def fullcache_warm(db: Databases) -> List[str]:
    return [FULLCACHE, "warm", "--json", "--models", MODELS, "--database-url", db.url]


def seed_warm(db: Databases) -> List[str]:
    return [PYTHON, str(HERE / "seed_warm.py"), db.url]


def alternated(label: str, runs: int, ours: Callable[[], Tuple[Run, Any]],
               theirs: Callable[[Any], Run]) -> Tuple[List[Run], List[Run], list]:
    """``ours()`` (a run and what its report says, checked) then
    ``theirs(report)`` (the baseline's run, checked against it), alternated,
    ``runs`` times each after one untimed run of each: the timed runs of
    each and the reports."""
    measured: List[Run] = []
    baseline: List[Run] = []
    reports: list = []
    for attempt in range(runs + 1):
        say(f"{label}: run {attempt}/{runs}" + (" (untimed)" if attempt == 0 else ""))
        run, report = ours()
        base = theirs(report)
        if attempt:
            measured.append(run)
            baseline.append(base)
            reports.append(report)
    return measured, baseline, reports


def warm_processes(db: Databases, rows: int, runs: int) -> dict:
    """``fullcache warm --json`` and the seed-way process, alternated, ``runs``
    times each after one untimed run of each."""
    env = db.env(rows)

    def ours() -> Tuple[Run, dict]:
        run = checked(run_process(fullcache_warm(db), env), "fullcache warm --json")
        report = json.loads(run.stdout)
        model = report["models"][0]
        if model["status"] != "ok" or model["cached_ids"] != rows or not report["ok"]:
            raise RuntimeError(f"fullcache warm did not report {rows} clean rows: {json.dumps(model)[:2000]}")
        return run, model

    def theirs(_model: dict) -> Run:
        seed = checked(run_process(seed_warm(db), env), "seed_warm.py")
        seed_out = json.loads(seed.stdout)
        if seed_out["rows"] != rows:
            raise RuntimeError(f"seed_warm.py loaded {seed_out['rows']} rows, not {rows}")
        return seed

    measured, baseline, reports = alternated(f"warm processes, {rows:,} rows", runs, ours, theirs)
    return {
        "fullcache_seconds": [r.seconds for r in measured],
        "seed_seconds": [r.seconds for r in baseline],
        "fullcache_cpu_seconds": [r.cpu_seconds for r in measured],
        "seed_cpu_seconds": [r.cpu_seconds for r in baseline],
        "fullcache_max_rss_bytes": [r.max_rss_bytes for r in measured],
        "seed_max_rss_bytes": [r.max_rss_bytes for r in baseline],
        "warm_seconds": [m["warm_seconds"] for m in reports],
        "seed_populate_seconds": [json.loads(r.stdout).get("populate_seconds") for r in baseline],
        "report_lookups": reports[-1]["lookups"],
        "report_memory_bytes": reports[-1]["memory_bytes"],
    }


APP = "tests.apps.circulation"


def app_processes(db: Databases, runs: int) -> dict:
    """``fullcache warm --json`` on the circulation application's nine
    cached models, and a process running the application's own populates in
    one session (app_warm.py), alternated, ``runs`` times each after one
    untimed run of each."""
    env = db.env(0)

    def ours() -> Tuple[Run, dict]:
        run = checked(run_process([FULLCACHE, "warm", "--json", "--models", APP, "--database-url", db.url], env),
                      "fullcache warm --json (circulation)")
        report = json.loads(run.stdout)
        if any(model["status"] != "ok" for model in report["models"]):
            raise RuntimeError(f"fullcache warm could not read every model: {run.stdout[:2000]}")
        return run, report

    def theirs(report: dict) -> Run:
        app = checked(run_process([PYTHON, str(HERE / "app_warm.py"), db.url], env), "app_warm.py")
        # A model without caches of its own is listed, never populated.
        cached = sum(model["cached_ids"] or 0 for model in report["models"])
        if json.loads(app.stdout)["rows"] != cached:
            raise RuntimeError(f"app_warm.py cached {app.stdout.strip()}, fullcache {cached} rows")
        return app

    measured, baseline, reports = alternated("circulation app", runs, ours, theirs)
    return {
        "fullcache_seconds": [r.seconds for r in measured],
        "app_seconds": [r.seconds for r in baseline],
        "fullcache_max_rss_bytes": [r.max_rss_bytes for r in measured],
        "app_max_rss_bytes": [r.max_rss_bytes for r in baseline],
        "app_populate_seconds": [json.loads(r.stdout)["populate_seconds"] for r in baseline],
        "report_total_seconds": [sum(m["total_seconds"] for m in r["models"]) for r in reports],
        "report_phases": {m["model"]: m["phases"] for m in reports[-1]["models"]},
        "rows": sum(m["rows"] for m in reports[-1]["models"]),
    }


def measure_app(args: argparse.Namespace, db: Databases) -> dict:
    """The real-application figures: time and peak memory of a whole warm."""
    say(f"filling the circulation application's tables, scale {args.scale} (not timed)")
    env = db.env(0)
    env["PYTHONPATH"] = str(ROOT)
    code = (
        "import sys\n"
        "from sqlalchemy import create_engine\n"
        "from tests.apps import circulation\n"
        "engine = create_engine(sys.argv[1])\n"
        "circulation.fill(engine, int(sys.argv[2]))\n"
        "engine.dispose()\n"
    )
    checked(run_process([PYTHON, "-c", code, db.url, str(args.scale)], env), "filling the circulation tables")
    raw = {"app": app_processes(db, args.runs)}
    app = raw["app"]
    figures = [
        Figure(
            "fullcache warm --json, circulation app, whole process", "s",
            median(app["fullcache_seconds"]), median(app["app_seconds"]),
            "a process running the application's own populates", "<= 1.5x", max_ratio=1.5,
            notes=f"median of {args.runs}, wall clock; {app['rows']:,} rows in 9 models; the report's total "
                  f"{median(app['report_total_seconds']):.2f} s, the application's populates "
                  f"{median(app['app_populate_seconds']):.2f} s",
        ),
        Figure(
            "peak RSS, circulation app, whole process", "MiB",
            median(app["fullcache_max_rss_bytes"]) / 2**20, median(app["app_max_rss_bytes"]) / 2**20,
            "a process running the application's own populates", "<= 1.5x", max_ratio=1.5,
            notes=f"median of {args.runs}, ru_maxrss of each process",
        ),
    ]
    return {"figures": figures, "raw": raw}


def startup(db: Databases, rows: int, runs: int) -> dict:
    env = db.env(rows)
    commands = {
        "import_click": [PYTHON, "-c", "import click"],
        "help": [FULLCACHE, "--help"],
        "models": [FULLCACHE, "models", "--models", MODELS, "--database-url", db.url],
    }
    times: Dict[str, List[float]] = {name: [] for name in commands}
    for attempt in range(runs + 1):
        for name, command in commands.items():
            run = checked(run_process(command, env), " ".join(command[:2]))
            if attempt:
                times[name].append(run.seconds)
    # Which modules --help imports (python -X importtime on the console script).
    run = checked(run_process([PYTHON, "-X", "importtime", FULLCACHE, "--help"], env), "importtime")
    modules = []  # (cumulative us, name, nested)
    for line in run.stderr.splitlines():
        if line.startswith("import time:"):
            parts = line[len("import time:"):].split("|")
            if len(parts) == 3 and parts[1].strip().isdigit():
                modules.append((int(parts[1]), parts[2].strip(), parts[2].startswith("  ")))
    top_level = sorted((m for m in modules if not m[2]), reverse=True)[:8]
    return {
        "seconds": times,
        "help_imports_sqlalchemy": any(name.split(".")[0] == "sqlalchemy" for _, name, _ in modules),
        "help_modules_imported": len(modules),
        "help_heaviest_top_level_imports_us": [(name, us) for us, name, _ in top_level],
    }


def curve(db: Databases, sizes: List[int], runs: int) -> List[dict]:
    """Warm time per row at each size: ``runs`` rounds over all sizes in turn
    (after one untimed round), so that a busy spell of the machine falls on
    every size alike; each run also times the seed's loop at that size.
    A small size's warm lasts a fraction of a second, so one busy moment
    moves its figure (the base of every ratio) the most: small sizes are
    warmed several times a round, up to SMALL_REPEATS, as long as that adds
    up to a tenth of the largest size's rows."""
    for size in sizes:
        db.ensure(size)
    largest = max(sizes)
    repeats = {s: max(1, min(SMALL_REPEATS, largest // (10 * s))) for s in sizes}
    samples: Dict[int, Dict[str, List[float]]] = {s: {"warm": [], "process": [], "seed": []} for s in sizes}
    for attempt in range(runs + 1):
        say(f"curve {', '.join(f'{s:,}' for s in sizes)} rows: round {attempt}/{runs}"
            + (" (untimed)" if attempt == 0 else ""))
        for size in sizes:
            env = db.env(size)
            for repeat in range(repeats[size]):
                run = checked(run_process(fullcache_warm(db), env), "fullcache warm --json")
                model = json.loads(run.stdout)["models"][0]
                if model["cached_ids"] != size:
                    raise RuntimeError(f"fullcache warm cached {model['cached_ids']} of {size} rows")
                if attempt:
                    samples[size]["warm"].append(model["warm_seconds"] / size * 1e6)
                    samples[size]["process"].append(run.seconds / size * 1e6)
            seed = json.loads(checked(run_process(seed_warm(db), env), "seed_warm.py").stdout)
            if attempt:
                samples[size]["seed"].append(seed["populate_seconds"] / size * 1e6)
    return [{
        "rows": size,
        "warm_us_per_row": median(samples[size]["warm"]),
        "warm_us_per_row_runs": samples[size]["warm"],
        "process_us_per_row": median(samples[size]["process"]),
        "seed_populate_us_per_row": median(samples[size]["seed"]),
        "seed_populate_us_per_row_runs": samples[size]["seed"],
    } for size in sizes]


def measure(args: argparse.Namespace, db: Databases) -> dict:
    rows = args.rows
    figures: List[Figure] = []
    raw: Dict[str, Any] = {}
    if args.curve_only:
        return {"figures": curve_figures(args, db, raw), "raw": raw}
    db.ensure(rows)
    env = db.env(rows)

    warm = raw["warm_processes"] = warm_processes(db, rows, args.runs)
    figures.append(Figure(
        "fullcache warm --json, whole process", "s",
        median(warm["fullcache_seconds"]), median(warm["seed_seconds"]),
        "process loading the table the seed's way (two dicts)", "<= 1.15x", max_ratio=1.15,
        notes=f"median of {args.runs}, wall clock; CPU {median(warm['fullcache_cpu_seconds']):.2f} s vs "
              f"{median(warm['seed_cpu_seconds']):.2f} s; peak RSS {median(warm['fullcache_max_rss_bytes']) / 2**20:.0f} "
              f"vs {median(warm['seed_max_rss_bytes']) / 2**20:.0f} MiB; of which populate_cache (report warm_seconds) "
              f"{median(warm['warm_seconds']):.2f} s vs the seed's loop {median(warm['seed_populate_seconds']):.2f} s",
    ))

    say("lookups (in-process)")
    lookups = raw["lookups"] = probe(env, "lookups", db.url, "--rounds", str(args.lookup_rounds))
    same, other = lookups["same_session"], lookups["other_session"]

    def twice_as_fast(name: str, pair: dict, baseline: str, notes: str) -> Figure:
        return Figure(name, "ns/lookup", pair["fullcache"]["median_ns"], pair["seed"]["median_ns"],
                      baseline, "<= 0.50x (2x faster)", max_ratio=0.5, notes=notes)

    figures.append(twice_as_fast(
        "by_id hit, caller's session is the warming session", same, "seed lookup (dict get, obj in session)",
        f"{lookups['samples']} ids x many passes, median of {lookups['dict_get']['rounds']} interleaved loops; "
        f"a bare dict.get loop: {lookups['dict_get']['median_ns']:.0f} ns",
    ))
    figures.append(twice_as_fast(
        "by_id hit from another session (repeated)", other, "seed lookup (merges on every call)",
        f"after one pass; fullcache's first lookup of a row in a new session (it merges): "
        f"{other['fullcache_first_lookup_ns']:.0f} ns",
    ))

    say("memory retained (tracemalloc, one fresh process each)")
    memory = raw["memory"] = {mode: probe(env, "memory", db.url, mode) for mode in ("fullcache", "objects", "seed")}
    figures.append(Figure(
        "memory retained per row by fullcache's caches", "B/row",
        memory["fullcache"]["retained_per_row"], memory["objects"]["retained_per_row"],
        "the ORM objects alone, in one list", "<= 1.10x", max_ratio=1.10,
        notes=f"tracemalloc, after populate_cache and the session's close; the seed's two dicts: "
              f"{memory['seed']['retained_per_row']:.0f} B/row",
    ))

    say("peak memory during a warm (tracemalloc, then RSS)")
    peak = raw["warm_memory"] = {tracer: probe(env, "warm-memory", db.url, tracer) for tracer in ("tracemalloc", "rss")}
    traced, rss = peak["tracemalloc"], peak["rss"]
    figures.append(Figure(
        "peak memory during a warm", "B/row",
        traced["peak_per_row"], traced["retained_per_row"],
        "memory retained after it", "<= 1.25x", max_ratio=1.25,
        notes=f"tracemalloc around fullcache_cli.warm(url, bench_models); by RSS: peak {rss['peak_per_row']:.0f} vs "
              f"after {rss['retained_per_row']:.0f} B/row; the report's memory_bytes estimate: "
              f"{traced['report_memory_bytes'] / rows:.0f} B/row",
    ))

    say("start-up")
    start = raw["startup"] = startup(db, rows, args.startup_runs)
    click_s = median(start["seconds"]["import_click"])
    figures.append(Figure(
        "fullcache --help start-up", "ms",
        median(start["seconds"]["help"]) * 1000, click_s * 1000,
        'python -c "import click"', "<= 1.5x, no SQLAlchemy", max_ratio=1.5,
        extra_condition=not start["help_imports_sqlalchemy"],
        notes=f"median of {args.startup_runs}; imports SQLAlchemy: "
              f"{'yes' if start['help_imports_sqlalchemy'] else 'no'}; {start['help_modules_imported']} modules",
    ))
    figures.append(Figure(
        "fullcache models start-up (incl. COUNT)", "ms",
        median(start["seconds"]["models"]) * 1000, click_s * 1000,
        'python -c "import click"', "(report only)",
        notes=f"median of {args.startup_runs}; {rows:,}-row table",
    ))

    figures += curve_figures(args, db, raw)
    return {"figures": figures, "raw": raw}


def curve_figures(args: argparse.Namespace, db: Databases, raw: Dict[str, Any]) -> List[Figure]:
    sizes = sorted(set(args.curve) | {args.rows}) if args.curve_include_rows else sorted(set(args.curve))
    points = raw["curve"] = curve(db, sizes, args.curve_runs)
    base = points[0]
    return [Figure(
        f"warm time per row at {point['rows']:,} rows", "us/row",
        point["warm_us_per_row"], base["warm_us_per_row"],
        f"itself at {base['rows']:,} rows", f"within {CURVE_TOLERANCE}x",
        max_ratio=CURVE_TOLERANCE, min_ratio=1 / CURVE_TOLERANCE,
        notes=f"report warm_seconds/rows, median of {len(point['warm_us_per_row_runs'])}; whole process "
              f"{point['process_us_per_row']:.1f} us/row; the seed's loop {point['seed_populate_us_per_row']:.1f} us/row",
    ) for point in points]


# -- output --------------------------------------------------------------------


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value < 1 else f"{value:.2f}"


def table(figures: List[Figure]) -> str:
    header = ("figure", "measured", "baseline", "ratio", "target", "met")
    rows = [header]
    for f in figures:
        met = "-" if f.met is None else ("yes" if f.met else "NO")
        rows.append((f.name, f"{fmt(f.measured)} {f.unit}", f"{fmt(f.baseline)} {f.unit}", f"{f.ratio:.2f}x", f.target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i in (0, 4) else cell.rjust(widths[i])
                               for i, cell in enumerate(r)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def code_version() -> dict:
    """The commit measured, and whether the package differs from it (read-only git)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = git("status", "--porcelain", "--", "fullcache_cli")
    return {"commit": git("rev-parse", "--short", "HEAD"), "fullcache_cli_changes": changed.splitlines()}


def parse_sizes(text: str) -> List[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of row counts: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("row counts must be positive")
    return sizes


def _interrupt(signum: int, _frame: Any) -> None:
    """A SIGTERM unwinds like Ctrl-C, so that the cluster is always removed."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the main benchmark table [200000]")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite", help="[sqlite]")
    parser.add_argument("--database-url", help="use this database (else PostgreSQL: a throwaway cluster; "
                                               "SQLite: a file in a temp dir)")
    parser.add_argument("--curve", type=parse_sizes, default=[10_000, 100_000], metavar="N,N,...",
                        help="row counts for the warm-time-per-row curve, the --rows size added [10000,100000]; "
                             "1000000 adds several minutes")
    parser.add_argument("--no-curve-rows", dest="curve_include_rows", action="store_false",
                        help="do not add the --rows size to the curve")
    parser.add_argument("--curve-only", action="store_true", help="measure the curve only")
    parser.add_argument("--app", choices=["circulation"],
                        help="measure a whole warm of this application's models instead (tests/apps/circulation.py)")
    parser.add_argument("--scale", type=int, default=1, help="size of the --app application's tables [1: ~3,000 rows]")
    parser.add_argument("--runs", type=int, default=5, help="whole-process warm runs, median [5]")
    parser.add_argument("--curve-runs", type=int, default=4, help="warm runs per curve size, median [4]")
    parser.add_argument("--startup-runs", type=int, default=11, help="start-up runs, median [11]")
    parser.add_argument("--lookup-rounds", type=int, default=25, help="interleaved timed loops per lookup, median [25]")
    parser.add_argument("--output", type=Path, metavar="PATH",
                        help="JSON results file [benchmarks/results/<database>-<rows>.json]")
    args = parser.parse_args(argv)
    if args.database_url and args.database == "sqlite" and not args.database_url.startswith("sqlite"):
        parser.error("--database sqlite needs a sqlite:// --database-url")
    if args.database_url and args.database == "postgresql" and not args.database_url.startswith("postgres"):
        parser.error("--database postgresql needs a postgresql:// --database-url")
    suffix = "-curve" if args.curve_only else ""
    name = f"{args.database}-{args.app}-{args.scale}" if args.app else f"{args.database}-{args.rows}{suffix}"
    output = args.output or HERE / "results" / f"{name}.json"

    signal.signal(signal.SIGTERM, _interrupt)
    load_before = os.getloadavg()
    version = code_version()
    db = Databases(args.database, args.database_url)
    try:
        result = measure_app(args, db) if args.app else measure(args, db)
    except RuntimeError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        db.cleanup()

    figures: List[Figure] = result["figures"]
    load_after = os.getloadavg()
    size = f"the {args.app} application, scale {args.scale}" if args.app else f"{args.rows:,} rows"
    print(f"fullcache benchmark: {args.database} ({db.description}), {size}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs; commit {version['commit']}"
          + (f" + uncommitted changes to {len(version['fullcache_cli_changes'])} file(s) of fullcache_cli"
             if version["fullcache_cli_changes"] else ""))
    print(table(figures))
    print()
    for f in figures:
        if f.notes:
            print(f"- {f.name}: {f.notes}")
    missed = [f.name for f in figures if f.met is False]
    print(f"\n{len(missed)} target(s) missed" + (": " + "; ".join(missed) if missed else ""))
    # This run keeps about one CPU busy itself.
    busy = load_before[0] > 0.5 or load_after[0] > 1.5
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (15 min {load_after[2]:.2f})"
          + ("; other processes were busy: ratios are paired, absolute times are noisy" if busy else ""))

    output.parent.mkdir(parents=True, exist_ok=True)
    import sqlalchemy

    document = {
        "schema": "fullcache.benchmark/1",
        "database": args.database,
        "database_description": db.description,
        "rows": args.rows,
        "app": args.app,
        "curve": [p["rows"] for p in result["raw"].get("curve", [])],
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "sqlalchemy": sqlalchemy.__version__},
        "total_seconds": round(time.perf_counter() - STARTED, 1),
        "code": version,
        "load_average": {"before": load_before, "after": load_after},
        "figures": [f.to_json() for f in figures],
        "missed": missed,
        "raw": result["raw"],
        "fill_seconds": db.filled,
    }
    output.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"JSON: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
