"""The coherence commands as library functions: install and uninstall change
capture, its status, invalidate, watch. Each returns a report (plain data,
rendered by the command line).

Only ``install``, ``uninstall`` and ``invalidate`` write, and only
fullcache's own objects (the ``fullcache`` schema and the
``fullcache_capture`` triggers; SQLite: ``fullcache_changes`` and the
``fullcache_*`` triggers).
"""

from __future__ import annotations

import select
import time
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Sequence

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from .database import parse_url
from .errors import ConfigError, describe
from .loading import CachedModel
from .masking import display_url
from .reports import ChangeReport, StatusReport, TableStatus, WatchEvent
from .runtime.coherence import capture
from .runtime.coherence.listener import APPLICATION_NAME, connect_parameters

# A cached table logged more often than this (commits a minute) is worth a
# warning: a committing transaction that notified takes a global lock.
BUSY_PER_MINUTE = 60

# -- connections -----------------------------------------------------------------


@contextmanager
def _writing(url: str) -> Iterator[Connection]:
    """A connection that may write (fullcache's own objects only), in one
    transaction committed at the end."""
    engine = create_engine(parse_url(url))
    try:
        try:
            connection = engine.connect()
        except Exception as error:
            raise ConfigError(f"cannot connect to {display_url(engine.url)}: {describe(error)}") from None
        with connection, connection.begin():
            yield connection
    finally:
        engine.dispose()


def _tables(connection: Connection, models: Sequence[CachedModel]) -> List[str]:
    """The models' tables, named as the triggers name them."""
    from sqlalchemy import inspect

    names = []
    schema = None
    if connection.dialect.name == "postgresql":
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
    for model in models:
        for table in inspect(model.cls).tables:
            name = table.name if schema is None else f"{table.schema or schema}.{table.name}"
            if name not in names:
                names.append(name)
    return names


def _script(connection: Connection, script: str) -> None:
    # Through the driver's own cursor, without parameters: the SQL holds "%".
    cursor = connection.connection.cursor()
    try:
        for statement in capture.sql_statements(script):
            cursor.execute(statement)
    finally:
        cursor.close()


def _objects(connection: Connection) -> List[str]:
    """fullcache's own objects present in the database."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT type || ' ' || name FROM sqlite_master WHERE name LIKE 'fullcache%' ORDER BY 1").all()
        return [row[0] for row in rows]
    rows = connection.exec_driver_sql(
        f"""SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = '{capture.SCHEMA}'
        UNION ALL SELECT 'table ' || oid::regclass::text FROM pg_class
          WHERE relnamespace = to_regnamespace('{capture.SCHEMA}') AND relkind = 'r'
        UNION ALL SELECT 'function ' || oid::regprocedure::text FROM pg_proc
          WHERE pronamespace = to_regnamespace('{capture.SCHEMA}')
        UNION ALL SELECT 'trigger {capture.TRIGGER} on ' || tgrelid::regclass::text FROM pg_trigger
          WHERE tgname = '{capture.TRIGGER}'
        ORDER BY 1""").all()
    return [row[0] for row in rows]


def _captured_tables(connection: Connection) -> List[str]:
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'fullcache%'").all()
        return [row[0] for row in rows]
    rows = connection.exec_driver_sql(
        "SELECT n.nspname || '.' || c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.tgname = '{capture.TRIGGER}'").all()
    return [row[0] for row in rows]


def _backend(url: str) -> str:
    backend = parse_url(url).get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise ConfigError(f"coherence supports PostgreSQL and SQLite, not {backend}")
    return backend


# -- the commands ------------------------------------------------------------------


def install(url: str, models: Sequence[CachedModel], sql_only: bool = False) -> ChangeReport:
    """Install change capture for the models' tables (idempotent), or with
    ``sql_only`` return the SQL without running it."""
    backend = _backend(url)
    with _writing(url) as connection:
        tables = _tables(connection, models)
        make = capture.postgresql_install_sql if backend == "postgresql" else capture.sqlite_install_sql
        script = make(tables)
        report = ChangeReport("install", display_url(parse_url(url)), backend, tables, script, not sql_only)
        if not sql_only:
            before = set(_objects(connection))
            _script(connection, script)
            report.created = [name for name in _objects(connection) if name not in before]
        else:
            connection.rollback()
    return report


def uninstall(url: str, sql_only: bool = False) -> ChangeReport:
    """Remove every object of fullcache's (the triggers on every table that
    carries one), or with ``sql_only`` return the SQL."""
    backend = _backend(url)
    with _writing(url) as connection:
        tables = sorted(_captured_tables(connection))
        make = capture.postgresql_uninstall_sql if backend == "postgresql" else capture.sqlite_uninstall_sql
        script = make(tables)
        report = ChangeReport("uninstall", display_url(parse_url(url)), backend, tables, script, not sql_only)
        if not sql_only:
            before = _objects(connection)
            _script(connection, script)
            after = set(_objects(connection))
            report.removed = [name for name in before if name not in after]
        else:
            connection.rollback()
    return report


def invalidate(url: str, models: Sequence[CachedModel]) -> ChangeReport:
    """A log entry and a notification for each model's table, in one
    transaction: for writes no trigger saw (a restore with triggers
    disabled, DDL)."""
    backend = _backend(url)
    with _writing(url) as connection:
        tables = _tables(connection, models)
        if backend == "postgresql":
            installed = connection.exec_driver_sql(capture.INSTALLED_SQL).scalar()
            if installed:
                statement = f"SELECT {capture.SCHEMA}.note_change(%(table)s)"
            else:  # the ORM fallback's own notification
                statement = f"SELECT pg_notify('{capture.CHANNEL}', json_build_object('table', %(table)s)::text)"
            for table in tables:
                connection.exec_driver_sql(statement, {"table": table})
        else:
            statements = [capture.SQLITE_CREATE] + [capture.sqlite_bump(table) for table in tables]
            _script(connection, "\n".join(statements))
        return ChangeReport("invalidate", display_url(parse_url(url)), backend, tables, "", True)


def status(url: str, models: Sequence[CachedModel]) -> StatusReport:
    """Capture installed, triggers present and enabled, generations,
    listeners, the notification queue, and tables written often."""
    from .database import open_database, read_only_connection

    backend = _backend(url)
    database = open_database(url)
    try:
        with read_only_connection(database) as connection:
            return _status(connection, database.display_url, backend, models)
    finally:
        database.dispose()


_TRIGGER_STATES = {"A": "enabled always", "O": "enabled", "R": "enabled on replica", "D": "disabled"}


def _status(connection: Connection, database: str, backend: str, models: Sequence[CachedModel]) -> StatusReport:
    tables = _tables(connection, models)
    by_table = {}
    from sqlalchemy import inspect

    for model in models:
        for table in inspect(model.cls).tables:
            by_table.setdefault(table.name, model.name)
    warnings: List[str] = []
    rows: List[TableStatus] = []
    if backend == "sqlite":
        present = {row[0] for row in connection.exec_driver_sql(
            "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'fullcache%'")}
        installed = connection.exec_driver_sql(
            f"SELECT count(*) FROM sqlite_master WHERE name = '{capture.SQLITE_TABLE}'").scalar() > 0
        generations = dict(connection.exec_driver_sql(capture.SQLITE_GENERATIONS_SQL).all()) if installed else {}
        for table in tables:
            rows.append(TableStatus(by_table.get(table, "?"), table, "sqlite" if table in present else None,
                                    generations.get(table, 0) if installed else None, None))
        if not installed:
            warnings.append("change capture is not installed: every commit by another connection resets "
                            "every model (run 'fullcache coherence install')")
        return StatusReport(database, backend, installed, rows, [], None, warnings)
    installed = connection.exec_driver_sql(capture.INSTALLED_SQL).scalar()
    triggers = dict(connection.exec_driver_sql(
        "SELECT n.nspname || '.' || c.relname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.tgname = '{capture.TRIGGER}'").all())
    generations, busy = {}, {}
    if installed:
        generations = {name: int(total) for name, total in connection.exec_driver_sql(capture.GENERATIONS_SQL)}
        busy = dict(connection.exec_driver_sql(
            f"SELECT table_name, count(*) FROM {capture.LOG_TABLE} "
            "WHERE weight = 1 AND logged_at > now() - interval '1 minute' GROUP BY table_name").all())
    for table in tables:
        state = triggers.get(table)
        row = TableStatus(by_table.get(table.split(".", 1)[1], "?"), table,
                          None if state is None else _TRIGGER_STATES.get(state, state),
                          generations.get(table, 0) if installed else None,
                          int(busy.get(table, 0)) if installed else None)
        rows.append(row)
        if row.trigger is None and installed:
            warnings.append(f"{table} has no {capture.TRIGGER} trigger: run 'fullcache coherence install {row.model}'")
        elif row.trigger not in (None, "enabled always"):
            warnings.append(f"{table}: trigger {capture.TRIGGER} is {row.trigger} (install enables it ALWAYS)")
        if (row.commits_last_minute or 0) > BUSY_PER_MINUTE:
            warnings.append(f"{table} was written {row.commits_last_minute} times in the last minute: every "
                            "notifying commit takes a global lock; a table written this often is a poor fit")
    if not installed:
        warnings.append("change capture is not installed: only the ORM of processes that run "
                        "coherence.start() notifies, and raw SQL, psql and other applications are invisible "
                        "(run 'fullcache coherence install')")
    listeners = [
        {"pid": pid, "client": client, "backend_start": str(started), "state": state}
        for pid, client, started, state in connection.exec_driver_sql(
            "SELECT pid, coalesce(host(client_addr), 'local'), backend_start, state FROM pg_stat_activity "
            "WHERE application_name = %(name)s AND datname = current_database() ORDER BY pid",
            {"name": APPLICATION_NAME}).all()
    ]
    queue = float(connection.exec_driver_sql("SELECT pg_notification_queue_usage()").scalar())
    return StatusReport(database, "postgresql", bool(installed), rows, listeners, queue, warnings)


def capture_warning(url: str) -> Optional[str]:
    """What ``check`` says when listeners follow this PostgreSQL database
    without change capture (the ORM fallback), or None."""
    from .database import open_database, read_only_connection

    if parse_url(url).get_backend_name() != "postgresql":
        return None
    database = open_database(url)
    try:
        with read_only_connection(database) as connection:
            if connection.exec_driver_sql(capture.INSTALLED_SQL).scalar():
                return None
            listeners = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(name)s "
                "AND datname = current_database()", {"name": APPLICATION_NAME}).scalar()
    finally:
        database.dispose()
    if not listeners:
        return None
    return (f"{listeners} coherence listener(s) follow this database without change capture: only the ORM "
            "of processes that run coherence.start() notifies, and raw SQL, psql and other applications are "
            "invisible (run 'fullcache coherence install')")


def watch(url: str, models: Sequence[CachedModel], on_event: Callable[[WatchEvent], None],
          count: Optional[int] = None, timeout: Optional[float] = None) -> int:
    """Print (through ``on_event``) every notification for the models'
    tables as it arrives, until ``count`` of them or ``timeout`` seconds.
    Returns how many were seen. PostgreSQL only."""
    import psycopg2

    if _backend(url) != "postgresql":
        raise ConfigError("watch needs PostgreSQL: SQLite has no notifications (its processes poll)")
    parsed = parse_url(url)
    try:
        connection = psycopg2.connect(**connect_parameters(parsed), application_name="fullcache-watch")
    except psycopg2.Error as error:
        raise ConfigError(f"cannot connect to {display_url(parsed)}: {describe(error)}") from None
    seen = 0
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {capture.CHANNEL}")
            cursor.execute("SELECT current_schema()")
            schema = cursor.fetchone()[0]
        from sqlalchemy import inspect

        wanted = {f"{t.schema or schema}.{t.name}" for m in models for t in inspect(m.cls).tables}
        deadline = None if timeout is None else time.monotonic() + timeout
        while count is None or seen < count:
            wait = 1.0 if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                break
            if select.select([connection], [], [], min(wait, 1.0))[0]:
                connection.poll()
                while connection.notifies and (count is None or seen < count):
                    notify = connection.notifies.pop(0)
                    table, txid, sent_at = capture.parse_payload(notify.payload)
                    if table.startswith("."):
                        table = schema + table
                    if table not in wanted:
                        continue
                    now = time.time()
                    delay = None if sent_at is None else round((now - float(sent_at)) * 1000, 3)
                    on_event(WatchEvent(table, txid, notify.pid, delay, now))
                    seen += 1
    finally:
        connection.close()
    return seen
