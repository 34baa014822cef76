"""SQLite: no push. A poller reads ``PRAGMA data_version`` (it moves when
another connection commits, and costs microseconds) every ``poll`` seconds;
when it moves, the counters that fullcache's triggers bump are read and the
models of the tables that changed are reset. Without the triggers, any
commit by another connection resets every model. The bound is the poll
interval.
"""

from __future__ import annotations

import sqlite3
from typing import Dict, Optional
from urllib.parse import quote

from . import capture
from .follower import Follower
from .watched import Watched


class SqlitePoller(Follower):
    mode = "poll"

    def __init__(self, watched: Watched, path: str, *, poll: float = 0.1, **options) -> None:
        super().__init__(watched, **options)
        self.path = path
        self.poll = poll
        self.connection: Optional[sqlite3.Connection] = None

    def connect(self) -> None:
        # Read-only, and never creating the file.
        uri = f"file:{quote(self.path)}?mode=ro"
        self.connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.tables = self.watched.tables(None)
        self._version = self._data_version()
        generations = self._generations()
        self.capture = "database" if generations is not None else None
        self.settle(generations, self.tables)

    def _data_version(self) -> int:
        return self.connection.execute("PRAGMA data_version").fetchone()[0]

    def _generations(self) -> Optional[Dict[str, int]]:
        try:
            rows = self.connection.execute(capture.SQLITE_GENERATIONS_SQL).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return None
            raise
        return {name: int(generation) for name, generation in rows}

    def follow(self) -> None:
        while not self.stopping.wait(self.poll):
            version = self._data_version()
            self.heartbeats += 1
            if version == self._version:
                continue
            self._version = version
            generations = self._generations()
            self.capture = "database" if generations is not None else None
            if generations is None:
                self.watched.reset_all()
                self.generations = None
            elif self.generations is None:
                self.watched.reset_all()
                self.generations = generations
            else:
                self.reset_moved(generations, self.tables)
            self.notifications += 1

    def forget_after_fork(self) -> None:
        self.connection = None  # a SQLite handle is not to be used across fork

    def status(self) -> dict:
        return {**super().status(), "poll_seconds": self.poll}
