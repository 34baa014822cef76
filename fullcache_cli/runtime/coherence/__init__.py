"""Coherence across processes: every process's full-table caches follow
every commit, over PostgreSQL's own LISTEN/NOTIFY (SQLite: a poll).

::

    from fullcache_cli import coherence
    handle = coherence.start(engine, myapp.models)   # once per process
    handle.wait_ready(10)                            # then warm, if you do
    handle.status()   # {"connected": True, "degraded": False, ...}
    handle.stop()

Change capture lives in the database (``fullcache coherence install``, or
the SQL of ``capture.postgresql_install_sql`` in a migration); without it,
the ORM of the processes that call ``start()`` notifies its own writes
(``capture="orm"``, the default when the log is missing): raw SQL is then
invisible.

Guarantees, with the listener connected: only committed changes invalidate
(a rollback or a rolled-back savepoint signals nothing); a process drops a
changed model within a bound after the writer's COMMIT returns, and after
that no lookup there returns the pre-commit row. Disconnected: degraded
(lookups bypass the caches by default) and everything is reset on reconnect
before notifications are trusted again. A LISTEN that went deaf is caught
within one heartbeat. Not promised: agreement with a caller's own older
snapshot or identity map; writes made with triggers disabled.

This module imports only the standard library, SQLAlchemy and psycopg2.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any, Dict, Optional, Union

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, make_url

from . import capture
from .follower import Follower
from .watched import EagerReloads, Watched, reload_sessions, resolve_models

__all__ = ["start", "Coherence", "running", "capture"]

_lock = threading.Lock()
_running: Dict[str, "Coherence"] = {}


class Coherence:
    """The coherence of one process with one database: a daemon thread
    that resets the models as the database changes."""

    def __init__(self, engine: Engine, owned: bool, watched: Watched, options: Dict[str, Any],
                 listen_url: URL, baseline: Optional[Dict[str, int]] = None) -> None:
        self.engine = engine
        self._owned = owned
        self.watched = watched
        self.options = options
        self.listen_url = listen_url
        self.backend = engine.dialect.name
        self._reloads: Optional[EagerReloads] = None
        reload_session = reload_sessions(engine)
        watched.use_reloads(reload_session)
        if options["reload"] == "eager":
            self._reloads = EagerReloads(reload_session, options["debounce"])
            watched.on_reset = self._reloads.schedule
            self._reloads.start()
        self.follower = self._follower(baseline)
        self.follower.start()

    def _follower(self, baseline: Optional[Dict[str, int]]) -> Follower:
        options = self.options
        common = {"while_degraded": options["while_degraded"], "baseline": baseline}
        if self.backend == "postgresql":
            from . import orm
            from .listener import PostgresListener, connect_parameters

            orm_capture = options["capture"] in ("orm", "auto")
            if orm_capture:
                orm.enable(self.watched.models)
            return PostgresListener(
                self.watched, connect_parameters(self.listen_url), heartbeat=options["heartbeat"],
                connect_timeout=options["connect_timeout"], orm_capture=orm_capture, **common,
            )
        if self.backend == "sqlite":
            from .sqlite import SqlitePoller

            path = self.listen_url.database
            if not path or path == ":memory:":
                raise ValueError("a SQLite database in memory has one connection: there is nothing to follow")
            return SqlitePoller(self.watched, os.path.abspath(path), poll=options["poll"], **common)
        raise ValueError(f"coherence supports PostgreSQL and SQLite, not {self.backend}")

    def wait_ready(self, timeout: Optional[float] = None) -> bool:
        """Wait until the first connection has settled the caches."""
        return self.follower.ready.wait(timeout)

    def status(self) -> dict:
        """``connected``, ``degraded``, ``last_notification``, ``models``,
        ``reconnects`` and more, as a dict."""
        status = self.follower.status()
        status["database"] = self.listen_url.render_as_string(hide_password=True)
        status["reload"] = self.options["reload"]
        if self._reloads is not None:
            status["reloads"] = self._reloads.reloads
        return status

    def add(self, models: Any) -> None:
        """Keep more models coherent (reset once, as they were not followed)."""
        new = [cls for cls in resolve_models(models) if cls not in self.watched.models]
        self.watched.add(new)
        self.watched.use_reloads(reload_sessions(self.engine))
        if self.backend == "postgresql" and self.options["capture"] in ("orm", "auto"):
            from . import orm

            orm.enable(new)
        self.follower.tables = self.watched.tables(self.follower.default_schema)
        self.watched.reset(new)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop following (the caches stay as they are, no longer coherent).
        True when the thread has ended within ``timeout``."""
        ended = self.follower.stop(timeout)
        if self._reloads is not None:
            self._reloads.stop()
        self.watched.use_reloads(None)
        self.watched.set_bypass(False)
        with _lock:
            for key, value in list(_running.items()):
                if value is self:
                    del _running[key]
            orm_in_use = any(c.backend == "postgresql" and c.options["capture"] != "database"
                             for c in _running.values())
        if not orm_in_use:
            from . import orm

            orm.disable()
        if self._owned:
            self.engine.dispose()
        return ended

    def _after_fork_in_child(self) -> "Coherence":
        """The child's own coherence: a new listener that LISTENs, then
        resets only the models whose generation moved since the parent's
        last resets (warmed caches stay shared copy-on-write elsewhere)."""
        parent = self.follower
        parent.forget_after_fork()
        if self._owned:
            self.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        baseline = parent.generations if not parent.degraded else None
        return Coherence(self.engine, self._owned, self.watched, self.options, self.listen_url, baseline)


def start(
    bind: Union[str, URL, Engine],
    models: Any = None,
    *,
    listen_url: Union[str, URL, None] = None,
    heartbeat: float = 5.0,
    while_degraded: str = "bypass",
    reload: str = "lazy",
    debounce: float = 0.05,
    capture: str = "auto",
    poll: float = 0.1,
    connect_timeout: float = 5.0,
) -> Coherence:
    """Keep ``models`` coherent with the database behind ``bind``.

    ``bind``: a URL or an Engine (reloads read through it, in read-only
    transactions of their own). ``models``: a module, classes, or None for
    the module named by ``FULLCACHE_MODELS``. ``listen_url``: where to
    LISTEN when ``bind`` goes through a replica or a transaction pooler
    (LISTEN needs a direct connection to the primary). ``heartbeat``:
    seconds between generation checks. ``while_degraded``: ``"bypass"``
    (lookups skip the caches while the listener is away) or ``"serve"``.
    ``reload``: ``"lazy"`` (the next lookup reloads) or ``"eager"`` (once a
    burst of changes is ``debounce`` seconds old). ``capture``: ``"auto"``
    (the database's change log when installed, else the ORM's own
    notifications), ``"database"`` or ``"orm"``. ``poll``: SQLite's poll
    interval. One per process and database: a second call adds the models.
    """
    if reload not in ("lazy", "eager"):
        raise ValueError("reload must be 'lazy' or 'eager'")
    if capture not in ("auto", "database", "orm"):
        raise ValueError("capture must be 'auto', 'database' or 'orm'")
    if isinstance(bind, Engine):
        engine, owned = bind, False
    else:
        url = make_url(bind)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg2")
        engine, owned = create_engine(url), True
    listen = make_url(listen_url) if listen_url is not None else engine.url
    key = f"{os.getpid()}:{listen.render_as_string(hide_password=False)}"
    watched_models = resolve_models(models)
    with _lock:
        existing = _running.get(key)
        if existing is not None:
            if owned:
                engine.dispose()
            existing.add(watched_models)
            return existing
        options = {
            "heartbeat": heartbeat, "while_degraded": while_degraded, "reload": reload, "debounce": debounce,
            "capture": capture, "poll": poll, "connect_timeout": connect_timeout,
        }
        coherence = Coherence(engine, owned, Watched(watched_models), options, listen)
        _running[key] = coherence
    return coherence


def running() -> list:
    """This process's running coherences."""
    with _lock:
        return list(_running.values())


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at fork
    parent = dict(_running)
    _running.clear()
    pid = os.getpid()
    for key, coherence in parent.items():
        _running[f"{pid}:{key.split(':', 1)[1]}"] = coherence._after_fork_in_child()


def _stop_all() -> None:
    for coherence in running():
        coherence.stop(timeout=1.0)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_stop_all)
