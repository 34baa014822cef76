"""The database fixtures of conftest.py do what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent


def _table(metadata: MetaData) -> Table:
    return Table(
        "things",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(50), nullable=False),
    )


def _engine(url: str):
    # NullPool: nothing stays connected once the test is done with it.
    return create_engine(url, poolclass=NullPool)


def test_database_url_is_empty_and_writable(backend, database_url):
    assert isinstance(database_url, str)
    engine = _engine(database_url)
    assert engine.dialect.name == backend
    assert inspect(engine).get_table_names() == []

    metadata = MetaData()
    things = _table(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(things.insert(), [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
    with engine.connect() as conn:
        rows = conn.execute(select(things.c.id, things.c.name).order_by(things.c.id)).all()
    assert [tuple(r) for r in rows] == [(1, "one"), (2, "two")]
    engine.dispose()


def test_new_database_url_gives_independent_databases(backend, new_database_url):
    first, second = new_database_url(), new_database_url()
    assert first != second

    metadata = MetaData()
    things = _table(metadata)
    engine_one, engine_two = _engine(first), _engine(second)
    metadata.create_all(engine_one)
    with engine_one.begin() as conn:
        conn.execute(things.insert(), [{"id": 1, "name": "only in the first"}])

    assert inspect(engine_one).get_table_names() == ["things"]
    assert inspect(engine_two).get_table_names() == []
    engine_one.dispose()
    engine_two.dispose()


def test_postgres_password_url_connects_as_password_role(postgres_password_url):
    url = make_url(postgres_password_url)
    # The special characters survive the string form (they are percent-quoted in it).
    assert url.username == "fullcache_pw"
    assert url.password == "s3cr3t-P@ss:w0rd/x"
    assert "s3cr3t-P@ss:w0rd/x" not in postgres_password_url

    engine = _engine(postgres_password_url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT current_user")).scalar() == "fullcache_pw"
        conn.execute(text("CREATE TABLE t (x integer)"))
        conn.execute(text("INSERT INTO t VALUES (42)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 42
    engine.dispose()


def test_postgres_bad_password_url_is_refused(postgres_bad_password_url):
    engine = _engine(postgres_bad_password_url)
    with pytest.raises(OperationalError, match="password authentication failed"):
        with engine.connect():
            pass
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_admin_url_can_terminate_other_connections(database_url, postgres_admin_url):
    admin = create_engine(postgres_admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    engine = _engine(database_url)
    with engine.connect() as victim:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        with pytest.raises(OperationalError):
            victim.execute(text("SELECT 1"))
    engine.dispose()
    admin.dispose()


# -- the banner: which backends a run tests ------------------------------------------


def _pytest_run(env_changes: dict, *args: str) -> subprocess.CompletedProcess:
    """A pytest run of this suite in a child process, with the environment
    changed as given (a value of None removes the variable)."""
    env = {k: v for k, v in os.environ.items() if k not in env_changes}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


NO_POSTGRES = {"FULLCACHE_TEST_POSTGRES_URL": None, "FULLCACHE_TEST_NO_POSTGRES_DISCOVERY": "1"}
ONE_TEST = "tests/test_fixtures.py::test_database_url_is_empty_and_writable"


def test_banner_says_postgresql_is_not_running_and_its_tests_skip():
    run = _pytest_run({**NO_POSTGRES, "FULLCACHE_REQUIRE_POSTGRES": None}, ONE_TEST)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == (
        "backends: SQLite only. PostgreSQL NOT RUNNING: FULLCACHE_TEST_POSTGRES_URL is not set and "
        "FULLCACHE_TEST_NO_POSTGRES_DISCOVERY is set; its tests are SKIPPED "
        "(set FULLCACHE_REQUIRE_POSTGRES=1 to fail instead)"
    ), run.stdout
    assert "PostgreSQL NOT RUN: 1 of its tests skipped (set FULLCACHE_REQUIRE_POSTGRES=1 to make that a failure)" \
        in lines, run.stdout


def test_banner_says_postgresql_tests_fail_when_required():
    run = _pytest_run({**NO_POSTGRES, "FULLCACHE_REQUIRE_POSTGRES": "1"}, ONE_TEST)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.splitlines()[0].endswith("; its tests FAIL (FULLCACHE_REQUIRE_POSTGRES=1)"), run.stdout
    assert "PostgreSQL NOT RUN:" not in run.stdout
    assert "1 passed, 1 error" in run.stdout


def test_banner_names_where_postgresql_comes_from(postgres_server):
    url = postgres_server.admin_url.render_as_string(hide_password=False)
    run = _pytest_run({"FULLCACHE_TEST_POSTGRES_URL": url, "FULLCACHE_REQUIRE_POSTGRES": "1"},
                      "--collect-only", ONE_TEST)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[0] == (
        f"backends: SQLite and PostgreSQL (from FULLCACHE_TEST_POSTGRES_URL ({url}), required)"
    ), run.stdout
    run = _pytest_run({"FULLCACHE_TEST_POSTGRES_URL": url}, "-m", "not postgresql", "--collect-only", ONE_TEST)
    assert run.stdout.splitlines()[0] == "backends: SQLite only; PostgreSQL tests deselected (-m 'not postgresql')"
