"""Small helpers shared by the tests: driving the CLI, filling databases."""

from __future__ import annotations

import json
from typing import Any, Callable

from click.testing import CliRunner, Result
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from fullcache_cli.cli import cli

PLANTED = "tests.apps.planted"


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


def fill_drifting(url: str) -> str:
    from tests.apps import drifting

    filled(url, drifting.fill)
    drifting.reset_all()
    return url


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
