"""Faults in the middle of a warm: the connection dropped from under it, a
statement that runs too long, a table far larger than the screen.

tests/apps/faulty.py's ``Killed`` terminates its own PostgreSQL backend from
inside populate_cache (through a superuser connection); ``Sleepy`` runs
``SELECT pg_sleep(5)``. Both run on PostgreSQL, with a password in the URL
(it must appear nowhere in what is printed).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tests.apps import big, faulty
from tests.helpers import app_database, by_model, invoke

FAULTY = "tests.apps.faulty"
PASSWORD = "s3cr3t-P@ss:w0rd/x"


def no_password(text: str) -> None:
    assert PASSWORD not in text and "s3cr3t-P%40ss%3Aw0rd%2Fx" not in text, text


@pytest.fixture
def faulty_pg(postgres_password_url, postgres_admin_url):
    with app_database(faulty, postgres_password_url, admin_url=postgres_admin_url) as url:
        yield url


# -- the connection drops mid-warm ----------------------------------------------


def test_connection_dropped_mid_warm(faulty_pg):
    result = invoke("warm", "First", "Killed", "Sleepy", "Last", "--models", FAULTY,
                    "--database-url", faulty_pg, "--json")

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    no_password(result.output)
    models = by_model(json.loads(result.stdout))
    assert models["First"]["status"] == "ok" and models["First"]["cached_ids"] == 3
    killed = models["Killed"]
    assert killed["status"] == "error"
    assert killed["error"].startswith("connection lost while warming Killed: OperationalError:")
    for later in ("Sleepy", "Last"):
        assert models[later]["status"] == "not run"
        assert models[later]["error"] == f"not run: {killed['error']}"


def test_connection_dropped_mid_warm_for_people(faulty_pg):
    result = invoke("check", "First", "Killed", "Last", "--models", FAULTY, "--database-url", faulty_pg)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    no_password(result.output)
    assert "Killed  unreadable  connection lost while warming Killed" in result.stdout
    assert "Last  not_run  not run: connection lost while warming Killed" in result.stdout
    assert "3 models, 3 rows" in result.stdout and "(2 not read)" in result.stdout


@pytest.mark.parametrize("command", [["inspect", "Killed"], ["lookup", "Killed", "Killed-1"]])
def test_connection_dropped_under_inspect_and_lookup(faulty_pg, command):
    result = invoke(*command, "--models", FAULTY, "--database-url", faulty_pg)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "connection lost while warming Killed" in result.output
    no_password(result.output)


def test_connection_dropped_under_models(faulty_pg, postgres_admin_url):
    """The backend is terminated right after the first COUNT: that model is
    counted, the next says the connection was lost, the rest are not counted."""
    from sqlalchemy import event, text
    from sqlalchemy.engine import Engine

    admin = create_engine(postgres_admin_url, poolclass=NullPool)
    killed = []

    def kill_after_first_count(conn, cursor, statement, parameters, context, executemany):
        if not killed and "count(" in statement.lower():
            pid = cursor.connection.get_backend_pid()
            with admin.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killed.append(pid)

    event.listen(Engine, "after_cursor_execute", kill_after_first_count)
    try:
        result = invoke("models", "--models", FAULTY, "--database-url", faulty_pg, "--json")
    finally:
        event.remove(Engine, "after_cursor_execute", kill_after_first_count)
        admin.dispose()

    assert killed
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "rerun with --traceback" not in result.output
    no_password(result.output)
    rows = json.loads(result.stdout)["models"]
    assert rows[0]["error"] is None and rows[0]["rows"] == 3
    # Found when the first count's savepoint is released, or by the next count.
    lost = rows[1]["error"]
    assert lost.startswith(f"not counted: connection lost after counting {rows[0]['model']}: OperationalError") or \
        lost.startswith(f"connection lost while counting {rows[1]['model']}: OperationalError"), lost
    for later in rows[2:]:
        assert later["rows"] is None
        assert later["error"] == "not counted: " + lost.removeprefix("not counted: ")


# -- --statement-timeout ------------------------------------------------------------


def test_statement_timeout_is_that_models_error(faulty_pg):
    result = invoke("check", "First", "Sleepy", "Last", "--models", FAULTY, "--database-url", faulty_pg,
                    "--statement-timeout", "0.5", "--json")

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    document = json.loads(result.stdout)
    models = by_model(document)
    assert models["Sleepy"]["populate_error"] == "QueryCanceled: canceling statement due to statement timeout"
    # The transaction survives the cancelled statement: the models after it are warmed.
    assert models["Last"]["status"] == "ok" and models["Last"]["cached_ids"] == 3
    assert models["First"]["status"] == "ok"
    assert document["problems"] == 1


def test_statement_timeout_under_inspect(faulty_pg):
    result = invoke("inspect", "Sleepy", "--models", FAULTY, "--database-url", faulty_pg, "--statement-timeout", "0.5")
    assert "Traceback" not in result.output
    assert "canceling statement due to statement timeout" in result.stdout


# -- large tables ---------------------------------------------------------------------


def test_inspect_of_a_large_table_prints_a_bounded_report(database_url):
    """20,000 rows on 10 keys: 19,990 rows in collisions. People see a few
    lines; --json has every id."""
    engine = create_engine(database_url, poolclass=NullPool)
    big.fill(engine, rows=20_000, keys=10)
    engine.dispose()
    try:
        result = invoke("inspect", "Big", "--models", "tests.apps.big", "--database-url", database_url,
                        "--limit", "5")
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
        assert len(result.stdout.splitlines()) < 60, result.stdout
        assert len(result.stdout) < 12_000

        result = invoke("inspect", "Big", "--models", "tests.apps.big", "--database-url", database_url, "--json")
        document = json.loads(result.stdout)
        assert document["rows"] == 20_000
        assert sum(len(c["ids"]) for c in document["collisions"]) == 20_000
    finally:
        big.Big.reset_cache()


MILLION = 1_000_000

# The child process is run by a small wrapper, so that RUSAGE_CHILDREN holds
# that one process's peak and no other's.
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stdout.write(done.stdout)\n"
    "sys.stderr.write(done.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, file=sys.stderr)\n"
    "sys.exit(done.returncode)\n"
)

UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def test_inspect_of_a_million_rows_is_bounded_in_output_and_memory(database_url):
    """A real process inspects a table of a million rows, nearly all of them
    in collisions: the report stays a screenful, and the process's peak
    memory stays within a small multiple of what the cache itself holds."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    engine = create_engine(database_url, poolclass=NullPool)
    big.fill(engine, rows=MILLION, keys=10)
    engine.dispose()
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "fullcache_cli", "inspect", "Big",
         "--models", "tests.apps.big", "--database-url", database_url],
        capture_output=True, text=True, cwd=root, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert len(done.stdout.splitlines()) < 60, done.stdout
    assert len(done.stdout) < 12_000
    assert "Collisions (10)" in done.stdout, done.stdout
    assert f"… (+{MILLION // 10 - 50:,})" in done.stdout, done.stdout  # 100,000 ids a key, 50 shown

    peak = int(done.stderr.strip().splitlines()[-1])
    found = re.search(r"memory (\d+(?:\.\d+)?) (B|KiB|MiB|GiB)", done.stdout)
    assert found, done.stdout
    cache = float(found.group(1)) * UNITS[found.group(2)]
    assert cache > MILLION * 200  # the million objects are in it
    # The interpreter and its modules (~100 MiB), then the cache and the
    # report: never the table held twice.
    assert peak < 150 * 1024**2 + 1.6 * cache, (peak, cache)
