"""The models one process keeps coherent: which tables they read, how to
reset them, and how their reloads read.

Only ``reset_cache()`` is asked of a model (the protocol's own), so an
application's copy of the original mixin is kept coherent too. fullcache's
mixin gets more: its reloads read in a read-only transaction of their own,
and while the listener is away its lookups bypass the caches.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapper, Session

PROTOCOL = ("reset_cache", "populate_cache", "cache_key", "_cache", "_id_cache", "RESET")


def resolve_models(models: Any) -> List[type]:
    """The cached models of a module, of an iterable of classes and modules,
    or (``None``) of the module named by ``FULLCACHE_MODELS``."""
    if models is None:
        name = os.environ.get("FULLCACHE_MODELS")
        if not name:
            raise ValueError("no models given: pass a module or classes, or set FULLCACHE_MODELS")
        models = importlib.import_module(name)
    if isinstance(models, (ModuleType, type)):
        models = [models]
    found: List[type] = []
    for item in models:
        candidates = list(vars(item).values()) if isinstance(item, ModuleType) else [item]
        for value in candidates:
            if isinstance(value, type) and value not in found and _is_cached_model(value):
                found.append(value)
            elif not isinstance(item, ModuleType) and value not in found:
                raise ValueError(f"{value!r} is not a cached model (a mapped class with {', '.join(PROTOCOL)})")
    if not found:
        raise ValueError(f"no cached models in {models!r}")
    return found


def _is_cached_model(cls: type) -> bool:
    if not all(hasattr(cls, name) for name in PROTOCOL) or cls.__dict__.get("__abstract__"):
        return False
    mapper = inspect(cls, raiseerr=False)
    return isinstance(mapper, Mapper) and mapper.class_ is cls


def _state_of(cls: type) -> Any:
    """fullcache's per-model state, or None for an application's own mixin
    (every class on fullcache's mixin has one of its own)."""
    state = cls.__dict__.get("_fullcache")
    return state if hasattr(state, "reload_session") else None


class Watched:
    """The models of one database, by the tables they read."""

    def __init__(self, models: Sequence[type]) -> None:
        self.models: List[type] = []
        self._tables: Dict[tuple, List[type]] = {}
        self.resets = 0
        self.on_reset: Optional[Callable[[type], None]] = None
        self.add(models)

    def add(self, models: Iterable[type]) -> None:
        for cls in models:
            if cls in self.models:
                continue
            self.models.append(cls)
            for table in inspect(cls).tables:
                self._tables.setdefault((table.schema, table.name), []).append(cls)

    @property
    def names(self) -> List[str]:
        return [cls.__name__ for cls in self.models]

    def tables(self, default_schema: Optional[str]) -> Dict[str, List[type]]:
        """The models by table, named ``schema.table`` as the trigger names them
        (no schema: ``default_schema``; SQLite: the bare name)."""
        named: Dict[str, List[type]] = {}
        for (schema, name), models in self._tables.items():
            key = name if default_schema is None else f"{schema or default_schema}.{name}"
            named.setdefault(key, []).extend(models)
        return named

    def reset(self, models: Iterable[type]) -> None:
        for cls in models:
            cls.reset_cache()
            self.resets += 1
            if self.on_reset is not None:
                self.on_reset(cls)

    def reset_all(self) -> None:
        self.reset(self.models)

    def set_bypass(self, bypass: bool) -> None:
        """While the listener is away: fullcache's mixin bypasses its caches
        (reset, and not filled until it is back); an application's own
        mixin can only be reset."""
        for cls in self.models:
            state = _state_of(cls)
            if state is not None:
                state.bypass = bypass
        if bypass:
            self.reset_all()

    def use_reloads(self, reload_session: Optional[Callable[[], Any]]) -> None:
        for cls in self.models:
            state = _state_of(cls)
            if state is not None:
                state.reload_session = reload_session


def reload_sessions(engine: Engine) -> Callable[[], Any]:
    """A factory of read-only sessions, each in a transaction of its own that
    is rolled back: where a reload reads."""
    postgresql = engine.dialect.name == "postgresql"

    @contextmanager
    def reload_session() -> Iterator[Session]:
        with engine.connect() as connection:
            if postgresql:
                connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            session = Session(bind=connection)
            try:
                yield session
            finally:
                session.close()

    return reload_session


class EagerReloads(threading.Thread):
    """Reload a reset model once a burst of changes is over: ``debounce``
    seconds without a new reset of it (at most ``10 * debounce`` after the
    first). Only fullcache's mixin: its generation guard drops a reload that
    a later reset overtook."""

    def __init__(self, reload_session: Callable[[], Any], debounce: float) -> None:
        super().__init__(name="fullcache-reloads", daemon=True)
        self._reload_session = reload_session
        self._debounce = debounce
        self._due: Dict[type, tuple] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self.reloads = 0

    def schedule(self, cls: type) -> None:
        state = _state_of(cls)
        if state is None:
            return
        now = time.monotonic()
        with self._wake:
            first = self._due.get(cls, (now, now))[0]
            self._due[cls] = (first, min(now + self._debounce, first + 10 * self._debounce))
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()

    def run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping:
                    now = time.monotonic()
                    ready = [cls for cls, (_, due) in self._due.items() if due <= now]
                    if ready:
                        break
                    timeout = min((due for _, due in self._due.values()), default=None)
                    self._wake.wait(None if timeout is None else max(0.0, timeout - now))
                if self._stopping:
                    return
                for cls in ready:
                    del self._due[cls]
            for cls in ready:
                try:
                    cls._populate_once(None, cls._fullcache)
                    self.reloads += 1
                except Exception:
                    pass  # the next lookup populates lazily, and says why if it fails
