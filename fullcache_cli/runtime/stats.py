"""The mixin's bookkeeping, one record per model: lookup and populate
counters that threads bump without a lock, what the last populate found wrong
with the keys, and :class:`CacheStats`, the snapshot applications read."""

from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Dict, Hashable, Iterator, Optional, Tuple

from sqlalchemy.orm import Session


class _Counter:
    """A counter that threads bump without a lock: ``next()`` on an
    ``itertools.count`` runs in C and cannot lose an increment under the GIL."""

    __slots__ = ("bump", "_count")

    def __init__(self, start: int = 0) -> None:
        self._count = itertools.count(start)
        self.bump = self._count.__next__

    @property
    def value(self) -> int:
        # repr is "count(N)", N being the next value it would hand out.
        return int(repr(self._count)[6:-1])


_LOOKUP_COUNTERS = ("hits", "misses", "merges", "merge_failures")


@contextmanager
def uncounted(cls: type) -> Iterator[None]:
    """Lookups made inside leave ``cls.cache_stats()``'s lookup counters
    (hits, misses, merges, merge failures) as they were: a tool that times
    lookups does not inflate the application's statistics. Lookups another
    thread makes meanwhile go uncounted too. A class without fullcache's
    mixin is left alone."""
    state = cls.__dict__.get("_fullcache")
    if not isinstance(state, _ModelState):
        yield
        return
    saved = {name: getattr(state, name).value for name in _LOOKUP_COUNTERS}
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(state, name, _Counter(value))
        # The hit paths count through this, bound to the counter replaced.
        cls._count_hit = state.hits.bump


@dataclass
class _PopulateRecord:
    """What one populate found wrong with the table's keys."""

    collisions: Dict[Hashable, list] = field(default_factory=dict)
    key_errors: list = field(default_factory=list)
    none_keys: list = field(default_factory=list)


class _ModelState:
    """Per-model bookkeeping, one per class (never shared with a subclass)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.populating = threading.Lock()
        self.generation = 0
        # Set by coherence: where reloads read, whether lookups bypass the caches.
        self.reload_session: Optional[Callable[[], ContextManager[Session]]] = None
        self.bypass = False
        self.hits = _Counter()
        self.misses = _Counter()
        self.populates = _Counter()
        self.merges = _Counter()
        self.merge_failures = _Counter()
        self.last_populate_seconds: Optional[float] = None
        self.last_populate_rows: Optional[int] = None
        self.record = _PopulateRecord()


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of one model's cache statistics."""

    hits: int
    misses: int
    populates: int
    merges: int
    merge_failures: int
    last_populate_seconds: Optional[float]
    last_populate_rows: Optional[int]
    cached_ids: int
    cached_keys: int
    collisions: Dict[Any, Tuple[Any, ...]]
    key_errors: Tuple[Tuple[Any, str], ...]
    none_keys: Tuple[Any, ...]

    def as_dict(self) -> dict:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "populates": self.populates,
            "merges": self.merges,
            "merge_failures": self.merge_failures,
            "last_populate_seconds": self.last_populate_seconds,
            "last_populate_rows": self.last_populate_rows,
            "cached_ids": self.cached_ids,
            "cached_keys": self.cached_keys,
        }
