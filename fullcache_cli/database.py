"""Database URLs, engines and read-only sessions.

fullcache only reads. Every connection it opens is read-only (PostgreSQL:
the session's default and each transaction ``READ ONLY``; SQLite: the file
opened with ``mode=ro`` where fullcache opens it, ``query_only`` and an
authorizer that refuses writes), every command runs inside one outer
transaction that is rolled back at the end, and each session joins it
through a savepoint, so whatever a model's own code adds, flushes or commits
never lands. guards.py holds the defences against code that tries harder.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Iterable, Iterator, Optional

from sqlalchemy import create_engine, event, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session

from .cancelling import cancel_statement, handle_errors, sqlite_statement_timeout
from .defaults import DEFAULT_CONNECT_TIMEOUT
from .errors import ConfigError, NoDatabaseURL, describe, first_line
from .guards import borrowed, held, own, refuse_escapes
from .masking import display_url, redact
from .sqlite_guard import arm_sqlite


def resolve_url(explicit: Optional[str], module: Optional[ModuleType] = None) -> str:
    """The database URL: the explicit value, else the models module's
    ``DATABASE_URL`` attribute."""
    if explicit:
        return explicit
    value = getattr(module, "DATABASE_URL", None) if module is not None else None
    if value:
        return str(value)
    raise NoDatabaseURL("no database URL: give one, or give the models module a DATABASE_URL")


def parse_url(text: str) -> URL:
    """The URL, with plain ``postgresql://`` read as psycopg2 (the driver
    fullcache installs; SQLAlchemy 2.1 would pick psycopg 3)."""
    try:
        url = make_url(text)
    except (sa_exc.ArgumentError, ValueError):
        # ValueError: a port that is not a number. Never echo the text
        # back: it may hold a password.
        raise ConfigError(
            "malformed database URL: write it as dialect[+driver]://user:password@host/dbname "
            "(for example postgresql://app@localhost/app or sqlite:///path/to/file.db)"
        ) from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg2")
    return url


@dataclass
class Database:
    """An engine that only reads, and how to speak of it without its password."""

    engine: Engine
    url: URL
    # The DB-API connections fullcache works on now (see cancel()).
    connections: set = field(default_factory=set, repr=False, compare=False)

    def cancel(self) -> None:
        """Cancel the statements running on fullcache's connections (from any
        thread: Ctrl-C's watcher calls it)."""
        for dbapi_connection in list(self.connections):
            cancel_statement(dbapi_connection)

    @property
    def display_url(self) -> str:
        return display_url(self.url)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def redact(self, text: str) -> str:
        """``text`` with this database's passwords masked."""
        return redact(text, self.url)

    def describe(self, error: BaseException) -> str:
        """One password-free line for an exception."""
        return self.redact(describe(error))

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(
    url: str | URL,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: Optional[float] = None,
) -> Database:
    """An engine for ``url`` whose every connection is read-only.

    ``statement_timeout`` (seconds) cancels any one statement that runs
    longer, so a huge table cannot hang a CI job (SQLite: counted until the
    statement's last row is read).
    """
    url = parse_url(url if isinstance(url, str) else url.render_as_string(hide_password=False))
    backend = url.get_backend_name()
    connect_args: dict = {}
    if backend == "postgresql" and url.get_driver_name() == "psycopg2":
        connect_args["connect_timeout"] = max(1, math.ceil(connect_timeout))
    elif backend == "sqlite":
        connect_args["timeout"] = connect_timeout
    try:
        engine = create_engine(_read_only_url(url) if backend == "sqlite" else url, connect_args=connect_args)
    except sa_exc.NoSuchModuleError:
        raise ConfigError(
            f"unknown database dialect {url.drivername!r}: use sqlite:///path/to/file.db or "
            "postgresql://user@host/dbname"
        ) from None
    except ImportError as error:
        raise ConfigError(
            f"the driver for {url.drivername!r} is not installed ({error}): install it with pip, "
            "or use postgresql:// (psycopg2) or sqlite://"
        ) from None
    except (sa_exc.ArgumentError, TypeError, ValueError) as error:
        raise ConfigError(
            f"database URL {display_url(url)} is not usable: "
            f"{redact(str(error), url)}"
        ) from None
    if backend == "sqlite":
        _require_sqlite_file(url)
    _make_read_only(engine, backend, statement_timeout)
    return Database(engine, url)


def _read_only_url(url: URL) -> URL:
    """A SQLite file's URL opening it read-only at the SQLite level
    (``file:...?mode=ro``): nothing on the connection can turn that off."""
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:") or url.query.get("uri"):
        return url
    from urllib.parse import quote

    location = quote(os.path.abspath(path))
    return url.set(database=f"file:{location}").update_query_dict({"mode": "ro", "uri": "true"})


def _require_sqlite_file(url: URL) -> None:
    """Connecting would create a missing SQLite file (a write, and every
    model then "has no table"): say that the file is not there instead."""
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:") or url.query.get("uri"):
        return
    if not os.path.isfile(path):
        folder = os.path.dirname(os.path.abspath(path))
        missing = "folder" if not os.path.isdir(folder) else "file"
        where = folder if missing == "folder" else path
        raise ConfigError(
            f"cannot connect to {display_url(url)}: the database {missing} "
            f"{where!r} does not exist; check the path in the database URL"
        )


def _make_read_only(engine: Engine, backend: str, statement_timeout: Optional[float]) -> None:
    refuse_escapes(engine)
    handle_errors(engine)
    if backend == "sqlite":
        if statement_timeout is not None:
            sqlite_statement_timeout(engine, statement_timeout)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, record):
            # Let SQLAlchemy, not the sqlite3 module, decide where a
            # transaction begins (or savepoints do not nest), and refuse
            # every write on this connection.
            dbapi_connection.isolation_level = None
            arm_sqlite(dbapi_connection)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            own(connection, "BEGIN")

    elif backend == "postgresql":
        setting = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
        timeout = None
        if statement_timeout is not None:
            timeout = f"SET LOCAL statement_timeout = {max(1, int(statement_timeout * 1000))}"

        @event.listens_for(engine, "connect")
        def _postgresql_connect(dbapi_connection, record):
            # Every transaction of the session is read-only by default, so
            # that a connection the application's code opens from this
            # engine in autocommit mode (no "begin" below) cannot write either.
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                cursor.execute("SET default_transaction_read_only = on")
            finally:
                cursor.close()
                dbapi_connection.autocommit = autocommit
            if hasattr(dbapi_connection, "readonly"):
                # psycopg2 then begins each transaction READ ONLY itself.
                dbapi_connection.readonly = True

        @event.listens_for(engine, "begin")
        def _postgresql_begin(connection):
            # One snapshot for the whole command (COUNT and populate agree),
            # and no statement of the transaction may write.
            own(connection, setting)
            if timeout:
                own(connection, timeout)


def connect_error(database: Database, error: BaseException) -> ConfigError:
    """A one-line, password-free explanation of a failed connection."""
    first = first_line(error) or type(error).__name__
    lowered = first.lower()
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        hint = "check the user and password in the database URL"
    elif "does not exist" in lowered:
        hint = "check the database name in the URL"
    elif "database is locked" in lowered:
        hint = "another connection holds a lock on it; try again, or allow longer (connect_timeout, --connect-timeout)"
    elif lowered.startswith("invalid"):
        hint = "check the port and the options in the database URL"
    elif database.backend == "sqlite":
        hint = "check the path in the database URL"
    else:
        hint = "check that the server runs and the host and port are right (see connect_timeout, --connect-timeout)"
    return ConfigError(
        f"cannot connect to {database.display_url}: {database.redact(first)}; {hint}"
    )


@contextmanager
def read_only_connection(database: Database) -> Iterator[Connection]:
    """A connection inside one transaction that is always rolled back."""
    try:
        connection = database.engine.connect()
    except sa_exc.DBAPIError as error:
        raise connect_error(database, error) from error
    try:
        transaction = connection.begin()
        if database.backend == "sqlite":
            # SQLite opens the file lazily: read it now, so that a file that
            # is no database, or one locked by a writer, is a connection error
            # (exit 2) rather than every model's.
            connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    except sa_exc.DBAPIError as error:
        try:
            connection.close()
        except sa_exc.SQLAlchemyError:
            pass
        raise connect_error(database, error) from error
    dbapi_connection = connection.connection.dbapi_connection
    database.connections.add(dbapi_connection)
    try:
        with held(connection):
            yield connection
    finally:
        database.connections.discard(dbapi_connection)
        try:
            # Whatever transaction is current: the application's code may
            # have ended ours and begun another.
            if transaction.is_active or connection.in_transaction():
                connection.rollback()
        except sa_exc.SQLAlchemyError:
            pass  # the connection is already gone; nothing was written
        try:
            connection.close()
        except sa_exc.DBAPIError:
            pass


def session_on(connection: Connection) -> Session:
    """A session that joins the connection's transaction through a savepoint:
    its commit() releases the savepoint, its rollback() returns to it."""
    return Session(bind=connection, join_transaction_mode="create_savepoint")


def fresh_sessions(connection: Connection, items: Iterable[Any]) -> Iterator[tuple[Session, Any]]:
    """``(session, item)`` for each item, in a new session each (see
    session_on), closed when the next pair is asked for: outside whatever
    the caller times, as a web request's first lookup is timed apart from
    opening its session."""
    for item in items:
        session = session_on(connection)
        try:
            yield session, item
        finally:
            session.close()


def private_engine(engine: Engine, statement_timeout: Optional[float] = None) -> tuple[Database, bool]:
    """``(database, owned)`` for an application's Engine.

    fullcache reads through an engine of its own on a pool recreated from the
    application's (the same connect function and arguments, the same pool
    listeners; one connection of its own for a StaticPool on a file), made
    read-only like every engine fullcache opens, so that neither its settings
    nor its transactions touch the application's connections. A SQLite
    database in memory lives in its one connection: a new pool would be
    another, empty database, so there the application's engine is used as it
    is (not owned), and its connection borrowed (see guards.borrowed).
    """
    if _in_memory(engine):
        return Database(engine, engine.url), False
    own_engine = Engine(
        engine.pool.recreate(),
        engine.dialect,
        engine.url,
        echo=engine.echo,
        hide_parameters=engine.hide_parameters,
    )
    _make_read_only(own_engine, engine.dialect.name, statement_timeout)
    return Database(own_engine, engine.url), True


def _in_memory(engine: Engine) -> bool:
    """A SQLite database that lives in the engine's one connection."""
    if engine.dialect.name != "sqlite":
        return False
    database = engine.url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database or engine.url.query.get("mode") == "memory"


def _database_for(bind: "str | URL | Engine | Database", statement_timeout: Optional[float]) -> tuple[Database, bool]:
    """``(database, owned)``: owned ones are disposed of when done."""
    if isinstance(bind, Engine):
        return private_engine(bind, statement_timeout)
    if isinstance(bind, Database):
        return bind, False
    return open_database(bind, statement_timeout=statement_timeout), True


@contextmanager
def _guarded_connection(database: Database, owned: bool) -> Iterator[Connection]:
    """A read-only connection of ``database``: fullcache's own, or, from an
    application's engine fullcache could not recreate, one it borrows."""
    if owned or not _in_memory(database.engine):
        with read_only_connection(database) as connection:
            yield connection
        return
    with database.engine.connect() as connection, borrowed(connection):
        yield connection


@contextmanager
def read_only_session(bind: "str | URL | Engine | Database") -> Iterator[Session]:
    """A session for application code (``populate_cache`` at start-up, say)
    on a read-only connection, rolled back at the end whatever the code did.

    The defences are fullcache's (see guards.py): writes, commits and
    statements that would end the read-only transaction are refused where
    they pass through SQLAlchemy, and on SQLite wherever they come from. Code
    that takes the raw driver connection and commits it on PostgreSQL can
    still end the transaction and write, and nothing here reports it (the
    commands do: ``escaped_transaction``): only a database role without write
    privileges makes that impossible.
    """
    database, owned = _database_for(bind, None)
    try:
        with _guarded_connection(database, owned) as connection:
            session = session_on(connection)
            try:
                yield session
            finally:
                session.close()
    finally:
        if owned:
            database.dispose()


@contextmanager
def connection_for(
    bind: "str | URL | Engine | Database | Session", statement_timeout: Optional[float] = None
) -> Iterator[tuple[Connection, Database]]:
    """``(connection, database)`` for any kind of bind: the database speaks
    of itself without its password (``display_url``, ``redact``, ``describe``).

    A URL or Engine gets a read-only connection in a transaction that is
    rolled back (an Engine: on a pool of fullcache's own, see
    private_engine). A Session inside a transaction lends its own connection
    (fullcache sees what the session sees): fullcache works in a read-only
    savepoint of its own on it that is always rolled back, and leaves the
    session's transaction and pending objects as they were (see
    guards.borrowed). A Session with no transaction begun is left alone:
    fullcache reads through its engine, as for an Engine.
    """
    if isinstance(bind, Session):
        engine = _session_engine(bind)
        if engine is None:
            connection = bind.connection()
            with borrowed(connection):
                yield connection, Database(connection.engine, connection.engine.url)
            return
        bind = engine
    database, owned = _database_for(bind, statement_timeout)
    try:
        with _guarded_connection(database, owned) as connection:
            yield connection, database
    finally:
        if owned:
            database.dispose()


def _session_engine(session: Session) -> Optional[Engine]:
    """The engine to read through for a Session with no transaction begun
    (None: borrow the session's connection)."""
    if session.in_transaction():
        return None
    try:
        bind = session.get_bind()
    except sa_exc.SQLAlchemyError:
        return None
    return bind if isinstance(bind, Engine) else None


def connection_lost(connection: Connection, error: Optional[BaseException] = None) -> bool:
    """Whether the connection is gone (after ``error``, if given)."""
    invalidated = isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    return bool(invalidated or connection.invalidated or connection.closed)


def count_rows(session: Session, cls: Any) -> int:
    """The rows of a mapped class's table (``COUNT``)."""
    return session.execute(select(func.count()).select_from(cls)).scalar_one()


def primary_key_column(cls: Any) -> Any:
    """The mapped class's primary-key column, or None when its primary key
    spans several columns."""
    from sqlalchemy import inspect

    primary_key = inspect(cls).primary_key
    return primary_key[0] if len(primary_key) == 1 else None
