"""Small helpers shared by the tests: driving the CLI, filling databases."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tracemalloc
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

from click.testing import CliRunner, Result
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from fullcache_cli.cli import cli

PLANTED = "tests.apps.planted"
ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict | None = None) -> Result:
    """Invoke the CLI in-process; stdout and stderr are kept apart; an
    exception the CLI lets through fails the test."""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def invoke(*args: str, env: dict | None = None) -> Result:
    """Invoke the CLI in-process as a user would: whatever happens is the result."""
    return CliRunner().invoke(cli, list(args), env=env)


def run_json(*args: str) -> tuple[int, Any]:
    result = run(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


def one_line_error(result: Result, code: int, *words: str) -> str:
    """The result failed with ``code`` and one line on stderr holding ``words``."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert result.stdout == ""
    return lines[0]


def filled(url: str, fill: Callable[[Any], None]) -> str:
    """``url`` after ``fill(engine)`` made its tables and rows."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        fill(engine)
    finally:
        engine.dispose()
    return url


@contextmanager
def app_database(app: ModuleType, url: str, /, **control: Any) -> Iterator[str]:
    """``url`` holding the tables and rows of ``app`` (a module of
    tests/apps), its state reset and its ``CONTROL`` given ``control``; on the
    way out its state is reset again and every model's caches cleared, so
    that nothing of one test reaches the next."""
    filled(url, app.fill)
    app.reset_all()
    if control:
        app.CONTROL.update(control)
    try:
        yield url
    finally:
        app.reset_all()


@contextmanager
def fullcache_process(*args: str, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """``python -m fullcache_cli ARGS`` in a process of its own, from the
    repository root, with ``env`` added to this environment and text pipes
    for stdout and stderr; killed and reaped on the way out if it still runs,
    so that a failing test leaves no process behind."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fullcache_cli", *args], cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def fill_planted(url: str) -> str:
    from tests.apps import planted

    filled(url, planted.fill)
    planted.reset_all()
    return url


def planted_table(url: str, model: type, rows: list[dict]) -> str:
    """Create ``model``'s table alone (a model of tests.apps.planted) and
    insert ``rows``, for a test that plants its own answers."""
    from tests.apps import planted

    def fill(engine) -> None:
        planted.Base.metadata.create_all(engine, tables=[model.__table__])
        with engine.begin() as connection:
            connection.execute(model.__table__.insert(), rows)

    return filled(url, fill)


def fill_sample(url: str) -> str:
    import sample_models

    return filled(url, sample_models.create_sample)


def fill_own_app(url: str) -> str:
    from tests.apps import own_app

    return filled(url, own_app.fill)


def by_model(document: dict) -> dict:
    return {m["model"]: m for m in document["models"]}


def checksum(bind: "str | Engine") -> dict:
    """Each table's row count and a digest of its rows, in a stable order
    (``bind``: a URL, or the Engine a database in memory lives in)."""
    import hashlib

    from sqlalchemy import inspect, text

    engine = create_engine(bind, poolclass=NullPool) if isinstance(bind, str) else bind
    try:
        with engine.connect() as connection:
            sums = {}
            for table in sorted(inspect(connection).get_table_names()):
                rows = sorted(repr(tuple(row)) for row in connection.execute(text(f'SELECT * FROM "{table}"')))
                sums[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
            return sums
    finally:
        if isinstance(bind, str):
            engine.dispose()


def retained_by_populate(engine, model) -> int:
    """Bytes that tracemalloc sees a second populate_cache keep once its
    session is closed (the first compiles and caches the statements)."""
    with Session(engine) as session:
        model.populate_cache(session)
        model.reset_cache()
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            model.populate_cache(session)
            session.close()
            gc.collect()
            return tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()


def runs_alone(code: str) -> None:
    """Run ``code`` in a fresh interpreter from the repository root (what it
    imports is then all its own) and fail the test with its stderr if it fails."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
