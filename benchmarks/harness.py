"""The benchmarks' harness: timed child processes and the databases they
measure (a SQLite file, or a throwaway PostgreSQL cluster), each table filled
once per size. Used by run.py."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
FULLCACHE = str(Path(PYTHON).parent / "fullcache")
MODELS = str(HERE / "bench_models.py")

STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


# -- processes -------------------------------------------------------------------


@dataclass
class Run:
    seconds: float  # wall clock
    cpu_seconds: float  # user + system
    max_rss_bytes: int
    stdout: str
    stderr: str
    returncode: int


def run_process(command: List[str], env: Dict[str, str]) -> Run:
    """Run to completion; wall time, CPU time and peak RSS of that one child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024,
                   out.read().decode(errors="replace"), err.read().decode(errors="replace"), process.returncode)


def checked(run: Run, what: str) -> Run:
    if run.returncode != 0:
        raise RuntimeError(f"{what} exited {run.returncode}:\n{run.stderr.strip()[-2000:]}")
    return run


def probe(env: Dict[str, str], *args: str) -> dict:
    run = checked(run_process([PYTHON, str(HERE / "probes.py"), *args], env), f"probes.py {args[0]}")
    return json.loads(run.stdout)


def median(values: List[float]) -> float:
    return statistics.median(values)


# -- databases ---------------------------------------------------------------------


class Databases:
    """Where the benchmark tables live, and their cleanup."""

    def __init__(self, kind: str, url: Optional[str]) -> None:
        self.kind = kind
        self.filled: Dict[int, float] = {}
        self._cluster = None
        self._tmpdir: Optional[tempfile.TemporaryDirectory] = None
        self.description = ""
        # Bytecode for every child process, written on the first (untimed)
        # runs and read by the others: measured and baseline start up alike,
        # whatever PYTHONDONTWRITEBYTECODE says and however stale __pycache__ is.
        self._pycache = tempfile.TemporaryDirectory(prefix="fullcache-bench-pycache-")
        if kind == "sqlite":
            if url:
                self.url = url
                self.description = "sqlite (--database-url)"
            else:
                self._tmpdir = tempfile.TemporaryDirectory(prefix="fullcache-bench-")
                self.url = f"sqlite:///{self._tmpdir.name}/bench.sqlite"
                self.description = "sqlite file in a temp dir"
        elif url:
            from sqlalchemy.engine import make_url

            parsed = make_url(url)
            if parsed.drivername in ("postgresql", "postgres"):
                parsed = parsed.set(drivername="postgresql+psycopg2")
            self.url = parsed.render_as_string(hide_password=False)
            self.description = f"postgresql (--database-url {parsed.render_as_string(hide_password=True)})"
        else:
            self.url = self._start_cluster()

    def _start_cluster(self) -> str:
        sys.path.insert(0, str(ROOT / "tests"))
        from pgcluster import _ThrowawayCluster, find_postgres_bindir
        from sqlalchemy import create_engine, text

        bindir = find_postgres_bindir()
        if bindir is None:
            raise SystemExit("no initdb/pg_ctl found (PATH or /usr/lib/postgresql/*/bin): pass --database-url")
        say(f"starting a throwaway PostgreSQL cluster from {bindir}")
        self._cluster = _ThrowawayCluster(bindir)
        admin = self._cluster.start()
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("CREATE DATABASE fullcache_bench TEMPLATE template0"))
            version = connection.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        self.description = f"throwaway PostgreSQL {version} cluster (removed afterwards)"
        return admin.set(database="fullcache_bench").render_as_string(hide_password=False)

    @staticmethod
    def table(rows: int) -> str:
        return f"bench_items_{rows}"

    def env(self, rows: int) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("FULLCACHE_DATABASE_URL", "DATABASE_URL", "FULLCACHE_MODELS", "PYTHONPATH")}
        env["FULLCACHE_BENCH_TABLE"] = self.table(rows)
        env["PYTHONPYCACHEPREFIX"] = self._pycache.name
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def ensure(self, rows: int) -> None:
        if rows in self.filled:
            return
        say(f"filling {self.table(rows)} with {rows:,} rows (not timed)")
        started = time.perf_counter()
        code = (
            "import sys, bench_models\n"
            "from sqlalchemy import create_engine\n"
            "engine = create_engine(sys.argv[1])\n"
            "bench_models.fill(engine, int(sys.argv[2]))\n"
            "engine.dispose()\n"
        )
        env = self.env(rows)
        env["PYTHONPATH"] = str(HERE)
        checked(run_process([PYTHON, "-c", code, self.url, str(rows)], env), "filling the table")
        self.filled[rows] = time.perf_counter() - started

    def cleanup(self) -> None:
        if self._cluster is not None:
            say("stopping and removing the throwaway cluster")
            self._cluster.stop()
            self._cluster = None
        elif self.kind == "postgresql" and self.filled:
            from sqlalchemy import create_engine, text

            engine = create_engine(self.url)
            with engine.begin() as connection:
                for rows in self.filled:
                    connection.execute(text(f"DROP TABLE IF EXISTS {self.table(rows)}"))
            engine.dispose()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
        self._pycache.cleanup()


