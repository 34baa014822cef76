"""The fallback without DDL rights: the ORM sends the notification itself,
from ``after_flush`` (and ``do_orm_execute`` for ORM bulk UPDATE/DELETE/
INSERT), on the transaction's own connection, so that a rollback, or a
rolled-back savepoint, drops it with the rest. One payload per table and
transaction (PostgreSQL folds identical ones). Raw SQL, other applications
and psql are invisible to it.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Dict, Iterable, Set

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from . import capture

_lock = threading.Lock()
# Mapped tables watched in this process, by (schema, name): what is named.
_watched: Dict[tuple, str] = {}
_installed = False


def enable(models: Iterable[type]) -> None:
    """Notify, from every Session of this process, the writes to the tables
    of ``models``."""
    global _installed
    with _lock:
        for cls in models:
            for table in inspect(cls).tables:
                _watched[(table.schema, table.name)] = f"{table.schema or ''}.{table.name}"
        if not _installed:
            event.listen(Session, "after_flush", _after_flush)
            event.listen(Session, "do_orm_execute", _do_orm_execute)
            _installed = True


def disable() -> None:
    global _installed
    with _lock:
        if _installed:
            event.remove(Session, "after_flush", _after_flush)
            event.remove(Session, "do_orm_execute", _do_orm_execute)
            _installed = False
        _watched.clear()


def _names(mapper) -> Set[str]:
    return {name for name in (_watched.get((t.schema, t.name)) for t in mapper.tables) if name}


def _after_flush(session: Session, _flush_context) -> None:
    # The session still shows what this flush wrote (its pre-flush state).
    names: Set[str] = set()
    for obj in itertools.chain(session.new, session.dirty, session.deleted):
        names |= _names(inspect(obj).mapper)
    _notify(session, names)


def _do_orm_execute(state) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and state.bind_mapper is not None:
        _notify(state.session, _names(state.bind_mapper))


def _notify(session: Session, names: Set[str]) -> None:
    if not names:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    for name in sorted(names):
        connection.exec_driver_sql(
            "SELECT pg_notify(%(channel)s, %(payload)s)",
            {"channel": capture.CHANNEL, "payload": json.dumps({"table": name})},
        )
