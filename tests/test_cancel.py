"""Ctrl-C and the time limits stop what runs, on the server too.

tests/apps/slow.py's ``Sleeper`` runs one statement that does not end by
itself (PostgreSQL ``pg_sleep(600)``, a SQLite query counting to 10**10);
``Streamer`` streams its rows slowly, no single statement slow. Ctrl-C is a
real SIGINT sent to a real ``fullcache`` process. The waits below are bounds
far above what the behaviour needs (the statements run for ten minutes or
more when not stopped), never measurements.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

import fullcache_cli
from tests.apps import slow
from tests.helpers import ROOT, app_database, by_model, fullcache_process, run

SLOW = "tests.apps.slow"
BOUND = 120  # seconds: a wait that only a statement never stopped reaches


@pytest.fixture
def slow_url(database_url):
    with app_database(slow, database_url) as url:
        yield url


def fullcache(*args: str, marker: Path):
    """fullcache in a process of its own, telling through ``marker`` when
    Sleeper's statement runs."""
    return fullcache_process(*args, env={slow.MARKER: str(marker), "PYTHONPATH": str(ROOT)})


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def sleeping_backends(admin_url: str, database: str) -> int:
    engine = create_engine(admin_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND state = 'active' "
                    "AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
                ),
                {"db": database},
            ).scalar_one()
    finally:
        engine.dispose()


def test_ctrl_c_cancels_the_running_statement_and_exits_130(slow_url, backend, tmp_path, request):
    marker = tmp_path / "running"
    with fullcache("check", "Sleeper", "Plain", "--models", SLOW, "--database-url", slow_url, marker=marker) as process:
        wait_for(marker.exists, "Sleeper's statement to start")
        if backend == "postgresql":
            admin_url = request.getfixturevalue("postgres_admin_url")
            database = slow_url.rsplit("/", 1)[1]
            wait_for(lambda: sleeping_backends(admin_url, database) == 1, "pg_sleep on the server")
        else:
            time.sleep(0.5)  # the query is under way (SQLite shows nothing to poll)

        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=BOUND)

    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    if backend == "postgresql":
        wait_for(lambda: sleeping_backends(admin_url, database) == 0, "the server's statement to end")


def test_model_timeout_stops_a_model_and_the_others_are_warmed(slow_url):
    """A statement that never ends and a populate slow between statements
    are both stopped; each is reported as timed out; check fails; the model
    after them is warmed as usual."""
    result = run(
        "check", "Sleeper", "Streamer", "Plain", "--models", SLOW, "--database-url", slow_url,
        "--model-timeout", "1", "--json",
    )

    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    models = by_model(document)
    assert models["Sleeper"]["timed_out"] == 1
    assert models["Streamer"]["timed_out"] == 1
    assert models["Plain"]["timed_out"] is None
    assert models["Plain"]["status"] == "ok" and models["Plain"]["cached_ids"] == 3
    assert document["problems"] == 2 and not document["ok"]


def test_model_timeout_through_the_library(slow_url):
    report = fullcache_cli.check(slow_url, [slow.Sleeper, slow.Plain], model_timeout=1)

    assert not report.ok
    assert [(p.model, p.kind) for p in report.problems()] == [("Sleeper", "timed_out")]
    assert {m.model: m.cached_ids for m in report.models}["Plain"] == 3


def test_statement_timeout_cancels_a_long_statement_on_either_backend(slow_url, tmp_path):
    with fullcache(
        "check", "Sleeper", "Plain", "--models", SLOW, "--database-url", slow_url,
        "--statement-timeout", "0.5", "--json", marker=tmp_path / "running",
    ) as process:
        stdout, stderr = process.communicate(timeout=BOUND)

    assert process.returncode == 1, stderr
    models = by_model(json.loads(stdout))
    assert "statement timeout" in models["Sleeper"]["populate_error"]
    assert models["Plain"]["status"] == "ok" and models["Plain"]["cached_ids"] == 3
