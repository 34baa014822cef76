"""SQLite's own refusals on fullcache's connections: an authorizer, asked by
SQLite itself as it compiles each statement (raw DB-API calls included, at
no cost per row), and ``PRAGMA query_only``. They refuse every write,
``ATTACH``, every ``PRAGMA`` that sets a value, ``COMMIT``, and the release
of fullcache's own savepoints (named here), which fullcache alone releases
(:func:`unguarded`)."""

from __future__ import annotations

import sqlite3
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Optional

# Around everything fullcache does on a borrowed (the application's) connection.
OUTER_SAVEPOINT = "fullcache_outer"
# Around one model's code.
MODEL_SAVEPOINT = "fullcache_model"
# fullcache's own savepoints: nobody else may release them.
PROTECTED = frozenset({OUTER_SAVEPOINT, MODEL_SAVEPOINT})

_SQLITE_WRITES = frozenset(
    getattr(sqlite3, name)
    for name in dir(sqlite3)
    if name.startswith(("SQLITE_CREATE_", "SQLITE_DROP_"))
    or name
    in (
        "SQLITE_INSERT",
        "SQLITE_UPDATE",
        "SQLITE_DELETE",
        "SQLITE_ALTER_TABLE",
        "SQLITE_REINDEX",
        "SQLITE_ANALYZE",
        "SQLITE_ATTACH",
        "SQLITE_DETACH",
    )
)
# PRAGMAs that take an argument and only read.
_READING_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_info",
        "index_xinfo",
        "index_list",
        "foreign_key_list",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
    }
)


def sqlite_authorizer(action: int, arg1: Optional[str], arg2: Optional[str], database: Any, trigger: Any) -> int:
    """SQLite's answer to each part of each statement fullcache's connections
    compile: no write, no ATTACH, no PRAGMA that sets a value, no COMMIT, no
    RELEASE of fullcache's own savepoints."""
    if action in _SQLITE_WRITES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA:
        if arg2 is not None and (arg1 or "").lower() not in _READING_PRAGMAS:
            return sqlite3.SQLITE_DENY
    elif action == sqlite3.SQLITE_TRANSACTION:
        if arg1 == "COMMIT":
            return sqlite3.SQLITE_DENY
    elif action == sqlite3.SQLITE_SAVEPOINT:
        if arg1 == "RELEASE" and arg2 in PROTECTED:
            return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _allow_everything(*_args: Any) -> int:
    return sqlite3.SQLITE_OK


def arm_sqlite(dbapi_connection: Any) -> None:
    """fullcache's authorizer and ``query_only`` on a sqlite3 connection."""
    set_query_only(dbapi_connection, 1)
    dbapi_connection.set_authorizer(sqlite_authorizer)


def _drop_authorizer(dbapi_connection: Any) -> None:
    # Python 3.10's sqlite3 cannot remove an authorizer: one that allows
    # everything takes its place.
    dbapi_connection.set_authorizer(None if sys.version_info >= (3, 11) else _allow_everything)


def set_query_only(dbapi_connection: Any, value: int) -> None:
    """``PRAGMA query_only`` set to ``value``, with no authorizer left."""
    _drop_authorizer(dbapi_connection)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA query_only = {int(value)}")
    finally:
        cursor.close()


@contextmanager
def unguarded(dbapi_connection: Any) -> Iterator[None]:
    """fullcache's own statement, run with the authorizer out of the way
    (releasing one of its savepoints): the authorizer is back after."""
    _drop_authorizer(dbapi_connection)
    try:
        yield
    finally:
        dbapi_connection.set_authorizer(sqlite_authorizer)
