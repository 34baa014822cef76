"""Shared pytest fixtures: fresh SQLite and PostgreSQL databases for every test.

Where the PostgreSQL server comes from, in order:

1. ``FULLCACHE_TEST_POSTGRES_URL``: the superuser URL of an existing server.
2. A throwaway cluster started once per test session with the ``initdb`` and
   ``pg_ctl`` found in ``PATH`` or ``/usr/lib/postgresql/*/bin`` (highest version
   first). It lives in a private temp dir, listens on 127.0.0.1 on a free port
   and is stopped and deleted when the session ends. When pytest runs as root
   it runs as the ``postgres`` OS user (``initdb`` refuses root).
3. Otherwise the PostgreSQL tests are skipped, or fail if
   ``FULLCACHE_REQUIRE_POSTGRES=1`` (CI sets it, so that a broken setup can
   never pass silently as a run of skips).

``FULLCACHE_TEST_NO_POSTGRES_DISCOVERY=1`` turns off step 2, e.g. to check the
skip/fail behaviour on a machine that does have PostgreSQL installed.

Fixtures:

``backend``                   "sqlite" / "postgresql" (the test runs once for each)
``database_url``              URL (str) of a fresh, empty, writable database on ``backend``
``new_database_url``          factory: each call gives one more such URL
``postgres_admin_url``        superuser URL (str) of the server's ``postgres`` database
``postgres_password_url``     URL (str) of a fresh database owned by the password-
                              authenticated role ``fullcache_pw``
``postgres_bad_password_url`` the same with a wrong password
``postgres_server``           the server object behind all of these (session scoped)

All URLs are strings with the password in clear (percent-quoted), so that they
can be passed on a command line as is. PostgreSQL URLs name the ``psycopg2``
driver explicitly: SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3,
which is not a dependency of this project.

Tests that use PostgreSQL carry the ``postgresql`` mark: ``-m "not postgresql"``
deselects them.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

# pytest puts this folder on sys.path (no __init__.py here, default import mode).
from pgcluster import DRIVER, NO_DISCOVERY_ENV, _env_flag, _ThrowawayCluster, find_postgres_bindir

URL_ENV = "FULLCACHE_TEST_POSTGRES_URL"
REQUIRE_ENV = "FULLCACHE_REQUIRE_POSTGRES"

PASSWORD_ROLE = "fullcache_pw"
# Characters that must be percent-quoted in a URL, on purpose.
PASSWORD = "s3cr3t-P@ss:w0rd/x"
BAD_PASSWORD = "not-the-" + PASSWORD

# Database names are fc_test_<counter>_<pid>: the pid keeps concurrent pytest
# runs against one external server apart.
_db_counter = itertools.count(1)
_db_counter_lock = threading.Lock()


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    # Utility statements (CREATE ROLE ... PASSWORD) take no bind parameters.
    return "'" + value.replace("'", "''") + "'"


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


@dataclass
class PostgresServer:
    """A reachable PostgreSQL server on which the tests may create databases."""

    admin_url: URL  # superuser, database "postgres"
    description: str
    # False only for an external server whose pg_hba.conf lets fullcache_pw in
    # without checking its password.
    enforces_passwords: bool = True
    _engine: Optional[Engine] = field(default=None, repr=False)

    @property
    def admin_engine(self) -> Engine:
        if self._engine is None:
            # NullPool: no idle admin connection keeps a test database busy.
            self._engine = create_engine(
                self.admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
            )
        return self._engine

    def url(self, database: str, username: Optional[str] = None,
            password: Optional[str] = None) -> URL:
        url = self.admin_url.set(database=database)
        if username is not None:
            url = url.set(username=username, password=password)
        return url

    def execute(self, sql: str, **params) -> list:
        with self.admin_engine.connect() as conn:
            result = conn.execute(text(sql), params)
            return list(result) if result.returns_rows else []

    def create_database(self, owner: Optional[str] = None) -> str:
        from sqlalchemy.exc import ProgrammingError

        # template0 is guaranteed empty (template1 of an external server may not be).
        suffix = f" OWNER {_quote_ident(owner)}" if owner else ""
        for _ in range(100):
            with _db_counter_lock:
                name = f"fc_test_{next(_db_counter)}_{os.getpid()}"
            try:
                self.execute(f"CREATE DATABASE {_quote_ident(name)} TEMPLATE template0{suffix}")
                return name
            except ProgrammingError as error:
                # Left over by an earlier run that died with the same pid.
                if "already exists" not in str(error):
                    raise
        raise RuntimeError("could not find a free test database name")

    def drop_database(self, name: str) -> None:
        """Drop ``name`` even if the test left connections open; never raise."""
        try:
            self.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()",
                name=name,
            )
            self.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)}")
        except Exception as error:  # teardown must not mask the test's own result
            sys.stderr.write(f"warning: could not drop test database {name}: {error}\n")

    def ensure_password_role(self) -> None:
        from sqlalchemy.exc import DBAPIError

        exists = self.execute("SELECT 1 FROM pg_roles WHERE rolname = :r", r=PASSWORD_ROLE)
        if not exists:
            try:
                self.execute(f"CREATE ROLE {_quote_ident(PASSWORD_ROLE)} LOGIN")
            except DBAPIError as error:
                # A concurrent pytest run on the same server got there first.
                if "already exists" not in str(error):
                    raise
        # Always (re)set the password: an external server may hold an old one.
        self.execute(
            f"ALTER ROLE {_quote_ident(PASSWORD_ROLE)} LOGIN PASSWORD {_quote_literal(PASSWORD)}"
        )

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _external_server(raw: str) -> PostgresServer:
    url = make_url(raw)
    if url.drivername == "postgresql":
        url = url.set(drivername=DRIVER)  # see the module docstring
    server = PostgresServer(admin_url=url.set(database=url.database or "postgres"),
                            description=f"{URL_ENV} ({url.render_as_string()})")
    server.execute("SELECT 1")
    server.ensure_password_role()
    # Its pg_hba.conf is not ours: find out whether a wrong password is refused.
    name = server.create_database(owner=PASSWORD_ROLE)
    try:
        probe = create_engine(server.url(name, PASSWORD_ROLE, BAD_PASSWORD), poolclass=NullPool)
        with probe.connect():
            server.enforces_passwords = False
    except Exception:
        pass
    finally:
        server.drop_database(name)
    return server


# ---------------------------------------------------------------------------
# pytest hooks
# ---------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: the test needs a PostgreSQL server")


def _postgres_source() -> tuple[Optional[str], str]:
    """``(where PostgreSQL comes from, None)`` or ``(None, why it cannot run)``:
    the same decision the ``postgres_server`` fixture makes, told up front."""
    try:
        import psycopg2  # noqa: F401
    except ImportError as error:
        return None, f"the psycopg2 driver is not installed ({error})"
    raw = os.environ.get(URL_ENV)
    if raw:
        return f"{URL_ENV} ({make_url(raw).render_as_string()})", ""
    bindir = find_postgres_bindir()
    if bindir is None:
        why = (f"{NO_DISCOVERY_ENV} is set" if _env_flag(NO_DISCOVERY_ENV)
               else "no initdb/pg_ctl in PATH or /usr/lib/postgresql/*/bin")
        return None, f"{URL_ENV} is not set and {why}"
    return f"a throwaway cluster from {bindir}", ""


def backends_banner(config: pytest.Config) -> str:
    """One line saying which backends this run tests, and, when PostgreSQL
    cannot run, why and what happens to its tests."""
    markexpr = config.getoption("markexpr", "") or ""
    if "not postgresql" in markexpr:
        return f"backends: SQLite only; PostgreSQL tests deselected (-m {markexpr!r})"
    where, why = _postgres_source()
    if where is not None:
        required = ", required" if _env_flag(REQUIRE_ENV) else ""
        return f"backends: SQLite and PostgreSQL (from {where}{required})"
    fate = (f"its tests FAIL ({REQUIRE_ENV}=1)" if _env_flag(REQUIRE_ENV)
            else f"its tests are SKIPPED (set {REQUIRE_ENV}=1 to fail instead)")
    return f"backends: SQLite only. PostgreSQL NOT RUNNING: {why}; {fate}"


def pytest_sessionstart(session: pytest.Session) -> None:
    # Written directly, not as a report header: -q hides headers, and a run
    # that silently skips every PostgreSQL test must not look like a full one.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    line = backends_banner(session.config)
    reporter.write_line(line, bold=True, red="NOT RUNNING" in line)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = [report for report in terminalreporter.stats.get("skipped", [])
               if "postgresql" in getattr(report, "keywords", {})]
    if skipped:
        terminalreporter.write_line(
            f"PostgreSQL NOT RUN: {len(skipped)} of its tests skipped "
            f"(set {REQUIRE_ENV}=1 to make that a failure)", bold=True, red=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Mark the tests that ask for a PostgreSQL fixture by name; the
    # "postgresql" variant of `backend` carries the mark through its param.
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgresql)


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


def _unavailable(reason: str) -> None:
    if _env_flag(REQUIRE_ENV):
        pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1) but unavailable: {reason}",
                    pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason} (set {URL_ENV} to a superuser URL, "
                f"or install the PostgreSQL server binaries)")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server; skips (or fails, if required) without one.

    Started lazily: a run of SQLite-only tests never starts a cluster. A skip
    or failure here is cached by pytest for the whole session, so an
    unavailable server is only looked for once.
    """
    where, why = _postgres_source()
    if where is None:
        _unavailable(why)

    raw = os.environ.get(URL_ENV)
    if raw:
        # Explicitly configured: a server that does not answer is an error, not a skip.
        try:
            server = _external_server(raw)
        except Exception as error:
            pytest.fail(f"{URL_ENV} is set but unusable: {error}", pytrace=False)
        try:
            yield server
        finally:
            server.dispose()
        return

    bindir = find_postgres_bindir()
    assert bindir is not None  # _postgres_source() found it
    cluster = _ThrowawayCluster(bindir)
    try:
        admin_url = cluster.start()
        server = PostgresServer(admin_url=admin_url,
                                description=f"throwaway cluster in {cluster.tmpdir}")
        server.ensure_password_role()
    except Exception as error:
        cluster.stop()
        _unavailable(f"could not start a throwaway cluster from {bindir}: {error}")
    try:
        yield server
    finally:
        server.dispose()
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_admin_url(postgres_server: PostgresServer) -> str:
    """Superuser URL of the server's ``postgres`` database (e.g. to pg_terminate_backend)."""
    return _render(postgres_server.admin_url)


@pytest.fixture(params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def new_database_url(backend: str, request: pytest.FixtureRequest,
                     tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Factory of URLs of fresh, empty, writable databases on ``backend``.

    SQLite: a new (empty, existing) file in ``tmp_path``. PostgreSQL: a new
    database owned by the superuser, dropped after the test.
    """
    # Resolved now, not on the first call: a skip/failure then happens at setup.
    server = request.getfixturevalue("postgres_server") if backend == "postgresql" else None
    created: list[str] = []
    counter = itertools.count(1)

    def make() -> str:
        if server is None:
            path = tmp_path / f"test{next(counter)}.sqlite"
            # Create the (empty) file, as a PostgreSQL database exists before use:
            # a read-only open of a missing SQLite file would fail.
            sqlite3.connect(path).close()
            return _render(URL.create("sqlite", database=str(path)))
        name = server.create_database()
        created.append(name)
        return _render(server.url(name))

    yield make
    for name in reversed(created):
        server.drop_database(name)


@pytest.fixture
def database_url(new_database_url: Callable[[], str]) -> str:
    """URL of a fresh, empty, writable database on ``backend``."""
    return new_database_url()


@pytest.fixture
def _password_database(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database(owner=PASSWORD_ROLE)
    yield name
    postgres_server.drop_database(name)


@pytest.fixture
def postgres_password_url(postgres_server: PostgresServer, _password_database: str) -> str:
    """URL, with user fullcache_pw and its (URL-quoted) password, of a fresh database it owns."""
    return _render(postgres_server.url(_password_database, PASSWORD_ROLE, PASSWORD))


@pytest.fixture
def postgres_bad_password_url(postgres_server: PostgresServer, _password_database: str) -> str:
    """As ``postgres_password_url`` but with a wrong password: connecting must fail."""
    if not postgres_server.enforces_passwords:
        pytest.skip(f"{postgres_server.description} lets {PASSWORD_ROLE} in "
                    "without checking its password (pg_hba.conf)")
    return _render(postgres_server.url(_password_database, PASSWORD_ROLE, BAD_PASSWORD))


@pytest.fixture
def planted_url(database_url: str) -> Iterator[str]:
    """A fresh database holding the planted app's tables and rows."""
    from tests.apps import planted
    from tests.helpers import app_database

    with app_database(planted, database_url) as url:
        yield url


@pytest.fixture
def sample_url(database_url: str) -> str:
    """A fresh database holding the sample's tables and rows."""
    from tests.helpers import fill_sample

    return fill_sample(database_url)


@pytest.fixture
def faulty_url(database_url: str) -> Iterator[str]:
    """A fresh database holding tests/apps/faulty.py's tables and rows; its
    CONTROL and caches are cleared after the test."""
    from tests.apps import faulty
    from tests.helpers import app_database

    with app_database(faulty, database_url) as url:
        yield url


@pytest.fixture
def outputs_url(database_url: str) -> Iterator[str]:
    """A fresh database holding tests/apps/outputs.py's tables and rows; its
    CONTROL and caches are reset after the test."""
    from tests.apps import outputs
    from tests.helpers import app_database

    with app_database(outputs, database_url) as url:
        yield url


@pytest.fixture
def writers_url(database_url: str) -> Iterator[str]:
    """A fresh database holding tests/apps/writers.py's tables and rows; what
    its models attempted and wrote, and their caches, cleared."""
    from tests.apps import writers
    from tests.helpers import app_database

    with app_database(writers, database_url) as url:
        yield url


@pytest.fixture
def probes_url(database_url: str) -> Iterator[str]:
    """A fresh database holding tests/apps/probes.py's tables and rows, with
    ``CONTROL["url"]`` set to it; CONTROL and caches are cleared after."""
    from tests.apps import probes
    from tests.helpers import app_database

    with app_database(probes, database_url, url=database_url) as url:
        yield url


@pytest.fixture
def drifting_url(database_url: str) -> Iterator[str]:
    """A fresh database holding the drifting app's tables and rows (the
    verify tests change them after a warm)."""
    from tests.apps import drifting
    from tests.helpers import app_database

    with app_database(drifting, database_url) as url:
        yield url
