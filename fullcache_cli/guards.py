"""What keeps fullcache's connections from writing, whatever the models' code
does, and what tells when that code got past it anyway.

Refused, on every connection fullcache works on (its own, or a Session's
that it borrows):

- SQL that ends, replaces or loosens fullcache's transaction, sent through
  SQLAlchemy: ``BEGIN``, ``COMMIT``, ``ROLLBACK``, ``SAVEPOINT``, ``RELEASE``,
  ``SET SESSION CHARACTERISTICS``, ``SET [default_]transaction_read_only``,
  ``set_config('…transaction…')`` and kin (a ``before_cursor_execute`` hook);
- ``Connection.commit()`` and ``rollback()`` of fullcache's connection;
- SQLite: every write, ``ATTACH``, every ``PRAGMA`` that sets a value, and
  ``COMMIT`` (an authorizer, asked by SQLite itself as it compiles each
  statement, raw DB-API calls included: it costs nothing per row).

What cannot be refused (the raw DB-API connection's own ``commit()``, a
driver call that drops the authorizer) is detected: each model's code runs
inside a savepoint of fullcache's own (:func:`watched`); afterwards fullcache
returns to it, and checks that its transaction is the one it began and that
no row was changed through its connection.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ReleaseSavepointClause, RollbackToSavepointClause, SavepointClause

from .reports import Breach
from .sqlite_guard import MODEL_SAVEPOINT, OUTER_SAVEPOINT, PROTECTED, arm_sqlite, set_query_only, unguarded

# fullcache's own statements carry this execution option.
_OWN_KEY = "fullcache_own"
OWN = {_OWN_KEY: True}


# connection.info key: the borrowed connection's state before fullcache came.
_BORROWED = "fullcache_borrowed"

_STATEMENT_START = r"(?:^|;)\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*"
_ESCAPES = re.compile(
    _STATEMENT_START
    + r"""(?:
        BEGIN | START \s+ TRANSACTION | COMMIT | END | ROLLBACK | ABORT
      | SAVEPOINT | RELEASE | PREPARE \s+ TRANSACTION | RESET
      | SET \s+ (?: SESSION \s+ CHARACTERISTICS | TRANSACTION | SESSION \s+ AUTHORIZATION
                | (?: SESSION \s+ | LOCAL \s+ )? (?: ROLE | (?:default_)?transaction_\w+ ) )
    )\b
    | \bset_config \s* \( \s* ' \s* (?:default_)?transaction_""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)


def escaping_statement(statement: str) -> bool:
    """Whether ``statement`` would end, replace or loosen the transaction it
    runs in (or the session's defaults for the next one)."""
    return _ESCAPES.search(statement) is not None


def refusal(what: str) -> str:
    first = (what.strip().splitlines() or [""])[0][:80]
    return (
        f"fullcache refused {first!r}: code run by fullcache may not end or loosen its read-only "
        "transaction"
    )


def _refuse(connection: Connection, what: str) -> None:
    dbapi = connection.dialect.loaded_dbapi
    raise sa_exc.OperationalError(what, None, dbapi.OperationalError(refusal(what)))


def _check_statement(conn, cursor, statement, parameters, context, executemany) -> None:
    if context is not None and context.execution_options.get(_OWN_KEY):
        return
    compiled = getattr(context, "compiled", None)
    clause = getattr(compiled, "statement", None)
    if isinstance(clause, (SavepointClause, RollbackToSavepointClause, ReleaseSavepointClause)):
        # A session's own savepoints nest inside fullcache's and end before
        # them; fullcache's own are released by fullcache alone.
        if isinstance(clause, ReleaseSavepointClause) and clause.ident in PROTECTED:
            _refuse(conn, statement)
        return
    if escaping_statement(statement):
        _refuse(conn, statement)


def _refuse_commit(conn) -> None:
    _refuse(conn, "COMMIT")


def refuse_escapes(target: "Engine | Connection") -> None:
    """Refuse, on ``target``'s connections, the statements that would end or
    loosen fullcache's transaction (see the module's docstring)."""
    event.listen(target, "before_cursor_execute", _check_statement)
    event.listen(target, "commit", _refuse_commit)


def _allow_escapes(target: "Engine | Connection") -> None:
    event.remove(target, "before_cursor_execute", _check_statement)
    event.remove(target, "commit", _refuse_commit)


def own(connection: Connection, statement: str) -> Any:
    """Run fullcache's own ``statement`` (which the hooks let through)."""
    return connection.exec_driver_sql(statement, execution_options=OWN)


# -- fullcache's hold on a connection ------------------------------------------------


class _Refused:
    """Stands in for a Connection method model code must not call."""

    def __init__(self, connection: Connection, name: str) -> None:
        self.connection = connection
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        _refuse(self.connection, f"Connection.{self.name}()")


def _hold(connection: Connection) -> None:
    connection.commit = _Refused(connection, "commit")  # type: ignore[method-assign]
    connection.rollback = _Refused(connection, "rollback")  # type: ignore[method-assign]


def _release(connection: Connection) -> None:
    for name in ("commit", "rollback"):
        connection.__dict__.pop(name, None)


@contextmanager
def held(connection: Connection) -> Iterator[Connection]:
    """fullcache's own connection while fullcache works on it: model code can
    neither commit nor roll back its transaction through it."""
    _hold(connection)
    try:
        yield connection
    finally:
        _release(connection)


@dataclass
class _Before:
    """What a borrowed connection was before fullcache came."""

    in_transaction: bool
    query_only: int = 0
    # The models' code undid fullcache's model savepoint, and fullcache went
    # back to its outer one (the application's transaction intact).
    recovered: bool = False


@contextmanager
def borrowed(connection: Connection) -> Iterator[Connection]:
    """The application's connection (a Session's), lent to fullcache for a
    while: everything fullcache and the models' code do on it happens inside
    a savepoint of fullcache's own that is always rolled back, read-only
    (PostgreSQL: ``SET TRANSACTION READ ONLY``, undone with the savepoint;
    SQLite: ``query_only`` and the authorizer, removed after), with the
    statements that would end it refused; the application's transaction and
    pending objects are as they were."""
    backend = connection.dialect.name
    dbapi = connection.connection.dbapi_connection
    before = _Before(in_transaction=bool(getattr(dbapi, "in_transaction", True)))
    if backend == "sqlite":
        before.query_only = own(connection, "PRAGMA query_only").scalar()
        arm_sqlite(dbapi)
    refuse_escapes(connection)
    _hold(connection)
    connection.info[_BORROWED] = before
    try:
        _enter(connection)
        yield connection
    finally:
        try:
            _leave(connection)
        finally:
            connection.info.pop(_BORROWED, None)
            _release(connection)
            _allow_escapes(connection)
            if backend == "sqlite":
                set_query_only(dbapi, before.query_only)


def _enter(connection: Connection) -> None:
    own(connection, f"SAVEPOINT {OUTER_SAVEPOINT}")
    if connection.dialect.name == "postgresql":
        own(connection, "SET TRANSACTION READ ONLY")


def _leave(connection: Connection) -> None:
    before: _Before = connection.info[_BORROWED]
    try:
        own(connection, f"ROLLBACK TO SAVEPOINT {OUTER_SAVEPOINT}")
    except sa_exc.DBAPIError:
        return  # gone with the transaction the models' code ended: reported per model
    if connection.dialect.name == "sqlite" and not before.in_transaction:
        # The savepoint began the transaction (pysqlite's legacy mode begins
        # one only before a write): releasing it would commit; end it instead.
        connection.connection.dbapi_connection.rollback()
    else:
        _release_savepoint(connection, OUTER_SAVEPOINT)


def _release_savepoint(connection: Connection, name: str) -> None:
    """Release one of fullcache's own savepoints, which the SQLite authorizer
    protects from everyone else."""
    if connection.dialect.name != "sqlite":
        own(connection, f"RELEASE SAVEPOINT {name}")
        return
    with unguarded(connection.connection.dbapi_connection):
        own(connection, f"RELEASE SAVEPOINT {name}")


# -- detection ---------------------------------------------------------------


ESCAPED = (
    "its code ended or replaced fullcache's read-only transaction ({how}): what it ran after that "
    "may have been written; a read-only database role makes that impossible"
)


@dataclass
class _Mark:
    identity: Any
    changes: int
    changes_after: Optional[int] = None


def _identity(connection: Connection) -> _Mark:
    backend = connection.dialect.name
    if backend == "postgresql":
        row = own(
            connection,
            "SELECT (SELECT virtualtransaction FROM pg_locks WHERE pid = pg_backend_pid() "
            "AND locktype = 'virtualxid'), "
            "(SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_all_tables)",
        ).one()
        return _Mark(row[0], int(row[1]))
    dbapi = connection.connection.dbapi_connection
    return _Mark(None, getattr(dbapi, "total_changes", 0))


class Watch:
    """One model's code, watched: ``breaches`` holds what it did that could
    not be refused (empty when nothing)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.breaches: List[Breach] = []
        self._before: Optional[_Mark] = None

    def start(self) -> None:
        self._before = _identity(self.connection)
        own(self.connection, f"SAVEPOINT {MODEL_SAVEPOINT}")

    def checkpoint(self) -> None:
        """Check, and leave fullcache's transaction as the code found it (a
        new one when the code ended it), before more of the model's code runs."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self._before is not None:
            before, self._before = self._before, None
            for breach in _after(self.connection, before):
                if breach not in self.breaches:
                    self.breaches.append(breach)


@contextmanager
def watched(connection: Connection) -> Iterator[Watch]:
    """Run one model's code inside a savepoint of fullcache's own; then return
    to it, whatever the code did, and tell whether it ended or replaced
    fullcache's transaction or changed rows through its connection.

    A model whose code ended the transaction leaves fullcache in a new one
    (read-only, as all of its transactions), so the models after it are
    warmed and reported as usual."""
    watch = Watch(connection)
    watch.start()  # a connection unusable already is the caller's to report
    try:
        yield watch
    finally:
        watch.stop()


def _after(connection: Connection, before: _Mark) -> List[Breach]:
    if connection.invalidated or connection.closed:
        return []  # the connection is gone: the caller reports it
    breaches: List[Breach] = []
    escaped = _escaped(connection, before)
    if escaped is not None:
        breaches.append(Breach("escaped_transaction", ESCAPED.format(how=escaped)))
    changed = _changes(connection, before)
    if changed:
        breaches.append(
            Breach(
                "database_write",
                f"its code changed {changed} row(s) through fullcache's connection, past fullcache's "
                "defences: they may have been written",
            )
        )
    borrowed_state = connection.info.get(_BORROWED)
    recovered = borrowed_state is not None and borrowed_state.recovered
    if recovered:
        borrowed_state.recovered = False
    _restore(connection, database_transaction_lost=escaped is not None and not recovered)
    return breaches


def _escaped(connection: Connection, before: _Mark) -> Optional[str]:
    """How the models' code ended or replaced fullcache's transaction, or None
    (then fullcache is back in its savepoint, as the model found it)."""
    dbapi = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite" and not dbapi.in_transaction:
        return "it was committed or rolled back, and none was left open"
    try:
        own(connection, f"ROLLBACK TO SAVEPOINT {MODEL_SAVEPOINT}")
        _release_savepoint(connection, MODEL_SAVEPOINT)
        after = _identity(connection)
    except sa_exc.DBAPIError:
        if _back_to_outer_savepoint(connection):
            return "it rolled back to before fullcache's savepoint"
        return "it was committed or rolled back under fullcache"
    before.changes_after = after.changes
    if after.identity != before.identity:
        return "another transaction took its place"
    return None


def _back_to_outer_savepoint(connection: Connection) -> bool:
    """A borrowed connection whose model savepoint the models' code undid:
    back to fullcache's outer savepoint, read-only again, with the
    application's transaction as it was. False when that is gone too."""
    if connection.info.get(_BORROWED) is None:
        return False
    try:
        own(connection, f"ROLLBACK TO SAVEPOINT {OUTER_SAVEPOINT}")
        if connection.dialect.name == "postgresql":
            own(connection, "SET TRANSACTION READ ONLY")
    except sa_exc.DBAPIError:
        return False
    connection.info[_BORROWED].recovered = True
    return True


def _changes(connection: Connection, before: _Mark) -> int:
    if connection.dialect.name == "sqlite":
        # total_changes counts every row changed on the connection, in any
        # transaction, committed or not.
        return connection.connection.dbapi_connection.total_changes - before.changes
    if before.changes_after is None:
        return 0  # another transaction: its counters are not ours to compare
    return max(0, before.changes_after - before.changes)


def _restore(connection: Connection, database_transaction_lost: bool) -> None:
    """Leave the connection as the next model must find it: in fullcache's
    read-only transaction (a new one when the models' code ended it; never
    committing whatever took its place), its defences armed."""
    borrowed_state = connection.info.get(_BORROWED)
    dbapi = connection.connection.dbapi_connection
    transaction = connection.get_transaction()
    sqlalchemy_ended = transaction is None or not transaction.is_active
    if borrowed_state is not None and database_transaction_lost and not sqlalchemy_ended:
        # The application's transaction is gone: whatever took its place is
        # rolled back, and the next statement begins a new one.
        dbapi.rollback()
    elif sqlalchemy_ended or database_transaction_lost:
        with warnings.catch_warnings():
            # "transaction already deassociated": the models' code ended it.
            warnings.simplefilter("ignore", sa_exc.SAWarning)
            Connection.rollback(connection)
        if connection.dialect.name == "postgresql" and borrowed_state is None:
            dbapi.readonly = True  # psycopg2 then begins each transaction READ ONLY
        connection.begin()  # fullcache's engines make it read-only (database.py)
    if connection.dialect.name == "sqlite":
        arm_sqlite(dbapi)  # the models' code may have dropped the authorizer
    if borrowed_state is not None and (database_transaction_lost or sqlalchemy_ended):
        _enter(connection)


# -- what the database itself would refuse ----------------------------------------


def writable_tables(connection: Connection, tables: Sequence[Any]) -> Optional[Tuple[str, List[str]]]:
    """PostgreSQL: ``(role, tables)``, the role fullcache runs as and those of
    ``tables`` (SQLAlchemy Table objects) it may write to. Information: a
    role that may not write makes the database itself refuse what
    fullcache's defences refuse. None elsewhere, or when it cannot be read."""
    if connection.dialect.name != "postgresql" or connection.invalidated or connection.closed:
        return None
    preparer = connection.dialect.identifier_preparer
    try:
        role = own(connection, "SELECT current_user").scalar_one()
        writable = []
        for table in tables:
            name = preparer.format_table(table)
            # A missing table is that model's error, reported with it.
            allowed = connection.execute(
                text(
                    "SELECT has_table_privilege(to_regclass(:name), 'INSERT, UPDATE, DELETE, TRUNCATE') "
                    "WHERE to_regclass(:name) IS NOT NULL"
                ),
                {"name": name},
                execution_options=OWN,
            ).scalar()
            if allowed:
                writable.append(table.fullname)
    except sa_exc.SQLAlchemyError:
        return None  # the connection is gone: the models report it
    return role, writable
