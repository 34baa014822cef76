"""What the PostgreSQL listener and the SQLite poller share: a daemon
thread that connects, follows the database's changes, and on any error marks
the process degraded and connects again with backoff."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Dict, Optional

from .watched import Watched

BACKOFF_MIN = 0.1
BACKOFF_MAX = 5.0


def describe(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


class Follower(threading.Thread):
    """One process's follower of one database (a daemon thread)."""

    mode = ""

    def __init__(self, watched: Watched, *, while_degraded: str = "bypass",
                 baseline: Optional[Dict[str, int]] = None, redact=lambda text: text) -> None:
        super().__init__(name=f"fullcache-{self.mode}", daemon=True)
        if while_degraded not in ("bypass", "serve"):
            raise ValueError("while_degraded must be 'bypass' or 'serve'")
        self.watched = watched
        self.while_degraded = while_degraded
        self.redact = redact
        self.stopping = threading.Event()
        self.connected = False
        self.degraded = True
        self.reconnects = 0
        self.connects = 0
        self.notifications = 0
        self.heartbeats = 0
        self.last_notification: Optional[dict] = None
        self.last_error: Optional[str] = None
        self.capture: Optional[str] = None
        self.connection: Any = None  # each kind's own, opened by connect()
        self.ready = threading.Event()  # set once connected the first time
        # The generations every reset so far accounts for: after a fork, the
        # parent's, so that the child resets only what moved since.
        self.generations: Optional[Dict[str, int]] = baseline
        self.pid = os.getpid()
        self.default_schema: Optional[str] = None  # PostgreSQL: current_schema()
        self.tables: Dict[str, list] = watched.tables(None)
        if baseline is None and while_degraded == "bypass":
            # Not following yet: the caches cannot be trusted until the first
            # connection settles them. (A forked child keeps the parent's,
            # checked against the parent's generations once it listens.)
            watched.set_bypass(True)

    # -- to be written by each kind -------------------------------------------

    def connect(self) -> None:
        raise NotImplementedError

    def follow(self) -> None:
        """Follow changes until stopping (return) or an error (raise)."""
        raise NotImplementedError

    def disconnect(self) -> None:
        """Let go of the connection ``connect`` opened: a close that fails
        changes nothing, the connection is dropped either way."""
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass

    def wake(self) -> None:
        """Interrupt a wait so that ``stopping`` is seen at once."""

    # -- the loop ---------------------------------------------------------------

    def run(self) -> None:
        delay = BACKOFF_MIN
        while not self.stopping.is_set():
            try:
                self.connect()
                if self.stopping.is_set():
                    break
                self.connects += 1
                if self.connects > 1:
                    self.reconnects += 1
                delay = BACKOFF_MIN
                self.follow()
            except Exception as error:
                if self.stopping.is_set():
                    break
                self.lost(error)
            finally:
                self.disconnect()
            if self.stopping.wait(delay):
                break
            delay = min(delay * 2, BACKOFF_MAX)
        self.connected = False

    def settle(self, generations: Optional[Dict[str, int]], tables: Dict[str, list]) -> None:
        """On (re)connect, listening already: reset what moved since the
        generations every earlier reset accounts for (everything when those
        are unknown), then trust notifications again."""
        if generations is None or self.generations is None:
            self.watched.reset_all()
        else:
            self.reset_moved(generations, tables)
        self.generations = generations
        if self.degraded:
            self.watched.set_bypass(False)
            self.degraded = False
        self.connected = True  # last: whoever sees it sees the caches in use
        self.ready.set()

    def reset_moved(self, generations: Dict[str, int], tables: Dict[str, list]) -> None:
        old = self.generations or {}
        moved = [models for table, models in tables.items() if generations.get(table, 0) != old.get(table, 0)]
        for models in moved:
            self.watched.reset(models)
        # Recorded only after the resets, so that a fork in between resets
        # the child's copies too.
        self.generations = generations

    def notified(self, table: str, models: list, txid: Any = None, sender: Any = None,
                 sent_at: Optional[float] = None) -> None:
        self.watched.reset(models)
        self.notifications += 1
        self.last_notification = {
            "table": table, "txid": txid, "sender_pid": sender, "sent_at": sent_at, "received_at": time.time(),
        }

    def lost(self, error: BaseException) -> None:
        self.last_error = self.redact(describe(error))
        self.connected = False
        if not self.degraded:
            self.degraded = True
            if self.while_degraded == "bypass":
                self.watched.set_bypass(True)
        # Whatever happened while away is unknown: reset everything on return.
        self.generations = None

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the thread; True when it has ended within ``timeout``."""
        self.stopping.set()
        self.wake()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
        return not self.is_alive()

    def status(self) -> dict:
        return {
            "mode": self.mode,
            "capture": self.capture,
            "connected": self.connected,
            "degraded": self.degraded,
            "while_degraded": self.while_degraded,
            "models": self.watched.names,
            "last_notification": self.last_notification,
            "notifications": self.notifications,
            "resets": self.watched.resets,
            "heartbeats": self.heartbeats,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
            "running": self.is_alive(),
            "pid": self.pid,
        }
