"""The PostgreSQL listener: LISTEN on an autocommit psycopg2 connection of
its own, and reset the models of every table a notification names.

Loop: connect, LISTEN, read the generations and reset what moved (all after
a reconnect), then wait for notifications up to the heartbeat interval; at
each heartbeat the generations are read again, so a LISTEN that went
silently deaf is caught within one interval. Nothing is reloaded on this
thread: a reset is O(1), the next lookup (or the eager reloader) reloads.
"""

from __future__ import annotations

import os
import select
import time
from typing import Any, Dict, Optional

import psycopg2

from . import capture
from .follower import Follower
from .watched import Watched

APPLICATION_NAME = "fullcache-listener"

KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


def connect_parameters(url) -> Dict[str, Any]:
    """psycopg2.connect() keywords for a SQLAlchemy URL."""
    parameters = url.translate_connect_args(username="user", database="dbname")
    for name, value in url.query.items():
        parameters[name] = value if isinstance(value, str) else value[-1]
    return parameters


class PostgresListener(Follower):
    mode = "listen"

    def __init__(self, watched: Watched, parameters: Dict[str, Any], *, heartbeat: float = 5.0,
                 connect_timeout: float = 5.0, orm_capture: bool = False, **options: Any) -> None:
        super().__init__(watched, **options)
        self.parameters = {
            **KEEPALIVES,
            "connect_timeout": max(1, int(connect_timeout)),
            **parameters,
            "application_name": APPLICATION_NAME,
        }
        self.heartbeat = heartbeat
        self.orm_capture = orm_capture
        self.connection = None
        self.backend_pid: Optional[int] = None
        self._wake_read, self._wake_write = os.pipe()

    def connect(self) -> None:
        connection = psycopg2.connect(**self.parameters)
        self.connection = connection
        connection.autocommit = True
        self.backend_pid = connection.get_backend_pid()
        with connection.cursor() as cursor:
            # LISTEN first (committed: autocommit), then read the state: a
            # change committed from here on is notified, anything earlier
            # is in the generations read below.
            cursor.execute(f"LISTEN {capture.CHANNEL}")
            cursor.execute("SELECT current_schema()")
            self.default_schema = cursor.fetchone()[0] or "public"
            self.tables = self.watched.tables(self.default_schema)
            generations = capture.postgresql_generations(cursor)
        if generations is None and not self.orm_capture:
            # Nothing would ever be notified: as good as disconnected.
            raise RuntimeError("change capture is not installed in this database "
                               "(run 'fullcache coherence install', or start with capture='auto')")
        self.capture = "database" if generations is not None else "orm"
        self.settle(generations, self.tables)

    def follow(self) -> None:
        connection = self.connection
        next_beat = time.monotonic() + self.heartbeat
        while not self.stopping.is_set():
            timeout = max(0.0, next_beat - time.monotonic())
            ready, _, _ = select.select([connection, self._wake_read], [], [], timeout)
            if self._wake_read in ready:
                os.read(self._wake_read, 512)
                continue
            if connection in ready:
                connection.poll()
                self._drain(connection)
            if time.monotonic() >= next_beat:
                self._heartbeat(connection)
                next_beat = time.monotonic() + self.heartbeat

    def _drain(self, connection) -> None:
        notifies = connection.notifies
        while notifies:
            notify = notifies.pop(0)
            table, txid, sent_at = capture.parse_payload(notify.payload)
            if table.startswith("."):  # the ORM fallback names no schema
                table = self.default_schema + table
            models = self.tables.get(table)
            if models:
                self.notified(table, models, txid, notify.pid, sent_at)

    def _heartbeat(self, connection) -> None:
        # The query is also the liveness check of the connection.
        with connection.cursor() as cursor:
            generations = capture.postgresql_generations(cursor)
        self._drain(connection)  # what arrived with the answer
        self.heartbeats += 1
        if generations is None:
            return
        if self.generations is None:  # capture installed since: start from it
            self.capture = "database"
            self.watched.reset_all()
            self.generations = generations
        else:
            self.reset_moved(generations, self.tables)

    def wake(self) -> None:
        try:
            os.write(self._wake_write, b"x")
        except OSError:
            pass

    def forget_after_fork(self) -> None:
        """In a forked child: let go of the parent's connection without
        closing it (closing would end the parent's session: the socket is
        shared). Its descriptor is pointed at /dev/null, so that when the
        object goes, libpq's goodbye goes nowhere."""
        connection = self.connection
        self.connection = None
        if connection is not None:
            try:
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, connection.fileno())
                os.close(null)
            except Exception:
                pass
        for fd in (self._wake_read, self._wake_write):
            try:
                os.close(fd)
            except OSError:
                pass

    def status(self) -> dict:
        return {**super().status(), "heartbeat_seconds": self.heartbeat, "backend_pid": self.backend_pid}
