"""HasFullTableCache: keep a whole table in memory, by id and by cache_key().

The protocol is the one applications already use (class attributes ``RESET``,
``_cache`` and ``_id_cache``; ``populate_cache``, ``by_id``, ``by_cache_key``
and friends), so a model can switch to this mixin without touching a call
site. What changes is what used to fail silently:

* a falsy object is a hit like any other (``is None`` decides a miss);
* a ``cache_key()`` that raises or returns an unhashable value never drops the
  row from the id cache and never aborts ``populate_cache``: the row is
  recorded as a key problem and stays reachable by id;
* a key of ``None`` is not a key: the row is reachable by id only, and
  recorded;
* two rows with one key are recorded; the row with the **lowest id** keeps the
  key, whatever order the database returns the rows in;
* ``populate_cache`` builds new dicts and swaps them in, so no lookup ever
  sees a half-built cache; a reset during a populate wins (the populate's
  result is not published);
* a cached object is handed out attached to the caller's session: as is when
  it already belongs to it, as the session's own copy when the session holds
  that row already, and merged (``merge(load=False)``) only the first time;
  an object deleted in the caller's session is never returned;
* a merge that fails asks the lookup hook for a fresh copy (which then
  replaces the broken cache entry); with no hook, :class:`CacheMergeError`
  says which object failed and why;
* statistics are kept per model (:meth:`HasFullTableCache.cache_stats`);
* one populate at a time per model and process; other lookups ask the hook.

With coherence on (:mod:`fullcache_cli.runtime.coherence`), reloads read in a
read-only transaction of their own and lookup hooks' results are not cached
(the caller's session may hold an old snapshot or uncommitted rows); while
the listener is away, lookups bypass the caches (reset, and not filled).
"""

from __future__ import annotations

import time
from typing import Any, Callable, ClassVar, Dict, Hashable, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import instance_state

from .gcpause import gc_paused
from .rows import stream_objects
from .stats import CacheStats, _ModelState, _PopulateRecord

__all__ = ["HasFullTableCache", "CacheStats", "CacheMergeError"]

# Rows fetched per round trip while populating: the table is streamed, not
# held twice (once as a result, once as the caches).
POPULATE_BATCH = 1000

# Where merged copies are kept alive in a caller's Session.info, so that a
# row merged once is found in the session's identity map on the next lookup.
_MERGED_KEY = "fullcache.merged"


# _swap_note: reset_cache() and populate_cache() hold on to the caches they
# replace until the class attributes are set. Otherwise the old dict can die
# inside the assignment, its objects' finalizers (SQLAlchemy's identity-map
# weakref callbacks) run Python code there, and another thread reading
# ``cls._cache`` meanwhile gets the freed dict from CPython's type attribute
# cache, which is only invalidated once the assignment is over
# (python/cpython#118492): a segmentation fault under threads.


class CacheMergeError(LookupError):
    """A cached object could not be merged into the caller's session and no
    lookup hook was given to fetch a fresh copy."""


# The tool's errors.describe is not imported: the runtime half never loads the
# tool, and a message kept whole serves an application's log best.
def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _first_per_id(key_errors: list) -> Tuple[Tuple[Any, str], ...]:
    first: Dict[Any, str] = {}
    for id, error in list(key_errors):
        first.setdefault(id, error)
    return tuple(first.items())


def _is_deleted_in(session: Session, state) -> bool:
    """Whether the caller's session deleted this row (pending or flushed)."""
    if state._deleted or state in session._deleted:
        return True
    return False


def _key_deleted_in(session: Session, key) -> bool:
    """Whether some copy of the row with this identity key was deleted in the
    session. Only asked before a merge, so a scan of the (usually empty)
    deleted sets is fine."""
    for state in session._deleted:
        if state.key == key:
            return True
    transaction = session._transaction
    while transaction is not None:
        for state in transaction._deleted:
            if state.key == key:
                return True
        transaction = transaction._parent
    return False


def _by_id_via_cache_lookup(cls: Any, _db: Session, id: Any) -> Any:
    def lookup_hook():
        return _db.get(cls, id), False

    obj, _ = cls._cache_lookup(_db, cls._id_cache, "_id_cache", id, lookup_hook)
    return obj


def _by_cache_key_via_cache_lookup(cls: Any, _db: Session, cache_key: Any, lookup_hook: Any) -> Tuple[Any, bool]:
    return cls._cache_lookup(_db, cls._cache, "_cache", cache_key, lookup_hook)


class HasFullTableCache:
    """A mixin for mapped classes whose whole table is kept in memory.

    Subclasses implement :meth:`cache_key`. Declaring ``_cache`` and
    ``_id_cache`` (``= HasFullTableCache.RESET``) in each subclass, as the
    original protocol asks, still works but is no longer needed: every
    subclass gets caches of its own.
    """

    RESET: ClassVar[object] = object()

    _cache: ClassVar[Any] = RESET
    _id_cache: ClassVar[Any] = RESET
    _fullcache: ClassVar[_ModelState] = _ModelState()
    _count_hit: ClassVar[Callable[[], Any]] = _fullcache.hits.bump

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_cache" not in cls.__dict__:
            cls._cache = cls.RESET
        if "_id_cache" not in cls.__dict__:
            cls._id_cache = cls.RESET
        cls._fullcache = _ModelState()
        # The hit paths count with this, one class attribute away.
        cls._count_hit = cls._fullcache.hits.bump
        if "_cache_lookup" in cls.__dict__:
            # An application's own _cache_lookup: route every lookup
            # through it, as the original protocol does.
            cls.by_id = classmethod(_by_id_via_cache_lookup)
            cls.by_cache_key = classmethod(_by_cache_key_via_cache_lookup)

    # -- the protocol -------------------------------------------------------

    @classmethod
    def reset_cache(cls) -> None:
        """Forget both caches; the next lookup populates them again."""
        state = cls._fullcache
        with state.lock:
            state.generation += 1
            old = cls._cache, cls._id_cache  # freed after the swap: see _swap_note
            cls._cache = cls.RESET
            cls._id_cache = cls.RESET
        del old

    def cache_key(self) -> Hashable:
        """The key this object is cached under; ``None`` means no key."""
        raise NotImplementedError()

    @classmethod
    def _cache_insert(cls, obj: Any, cache: Any, id_cache: Any, record: Optional[_PopulateRecord] = None) -> None:
        """Put one object into the given caches (either may be ``RESET``).

        Never raises for a bad key: the problem goes into ``record`` (by
        default the model's last populate record).
        """
        if record is None:
            record = cls._fullcache.record
        id = obj.id
        if id_cache is not cls.RESET and id is not None:
            id_cache[id] = obj
        try:
            key = obj.cache_key()
        except Exception as error:
            record.key_errors.append((id, _describe(error)))
            return
        if key is None:
            record.none_keys.append(id)
            return
        if cache is cls.RESET:
            return
        try:
            held = cache.setdefault(key, obj)
        except Exception as error:  # unhashable, or its __hash__/__eq__ raised
            record.key_errors.append((id, _describe(error)))
            return
        if held is not obj:
            held_id = held.id
            if held_id == id:
                cache[key] = obj  # a fresher copy of the same row
                return
            try:
                lower = id < held_id
            except TypeError:
                lower = False
            if lower:
                cache[key] = obj
            ids = record.collisions.setdefault(key, [held_id])
            ids.append(id)

    @classmethod
    def populate_cache(cls, _db: Session) -> None:
        """Load every row of the table into new caches, then swap them in."""
        state = cls._fullcache
        generation = state.generation
        started = time.perf_counter()
        cache: dict = {}
        id_cache: dict = {}
        record = _PopulateRecord()
        insert = cls._cache_insert
        rows = 0
        with gc_paused():  # see gcpause: the collector only slows a load down
            for obj in cls._stream_rows(_db):
                insert(obj, cache, id_cache, record)
                rows += 1
        state.populates.bump()
        state.last_populate_seconds = time.perf_counter() - started
        state.last_populate_rows = rows
        state.record = record
        with state.lock:
            if state.generation == generation:
                old = cls._cache, cls._id_cache  # freed on return: see _swap_note
                cls._cache = cache
                cls._id_cache = id_cache

    @classmethod
    def _stream_rows(cls, _db: Session):
        return stream_objects(_db, select(cls), POPULATE_BATCH)

    @classmethod
    def _cache_lookup(
        cls,
        _db: Session,
        cache: Any,
        cache_name: str,
        cache_key: Any,
        lookup_hook: Optional[Callable[[], Tuple[Any, bool]]],
    ) -> Tuple[Any, bool]:
        """Find ``cache_key`` in ``cache``; on a miss, ask ``lookup_hook``."""
        state = cls._fullcache
        if cache is cls.RESET:
            cls._populate_once(_db, state)
            cache = getattr(cls, cache_name)
        obj = None
        if cache is not cls.RESET:
            try:
                obj = cache.get(cache_key)
            except TypeError:
                obj = None  # an unhashable key is never in the cache
        if obj is not None:
            try:
                attached = cls._attach(_db, obj)
            except Exception as error:
                state.merge_failures.bump()
                return cls._after_merge_failure(_db, obj, error, lookup_hook)
            if attached is not None:
                state.hits.bump()
                return attached, False
        state.misses.bump()
        if lookup_hook is None:
            return None, False
        obj, new = lookup_hook()
        if obj is None:
            return None, new
        attached = cls._attach(_db, obj)
        if attached is not None and state.reload_session is None:
            # Never cache what the caller's session deleted (a hook can hand
            # back an object pending deletion), nor, with coherence on, what
            # it read at all: its snapshot may predate the last invalidation.
            cls._cache_insert(obj, cls._cache, cls._id_cache)
        return attached, new

    @classmethod
    def _populate_once(cls, _db: Session, state: _ModelState) -> None:
        """Populate, unless another thread is at it or lookups bypass the caches."""
        if state.bypass or not state.populating.acquire(blocking=False):
            return  # the caller goes on to its lookup hook
        try:
            if cls._id_cache is not cls.RESET and cls._cache is not cls.RESET:
                return  # filled by the thread that held the lock a moment ago
            if state.reload_session is None:
                cls.populate_cache(_db)
                return
            with state.reload_session() as session:
                cls.populate_cache(session)
        finally:
            state.populating.release()

    @classmethod
    def _attach(cls, _db: Session, obj: Any) -> Any:
        """``obj`` as the caller's session sees it, or None if it deleted it."""
        state = instance_state(obj)
        if state.session_id == _db.hash_key:
            return None if _is_deleted_in(_db, state) else obj
        key = state.key
        if key is not None:
            # The identity map's own dict: its get() costs more than the hit.
            own_state = _db.identity_map._dict.get(key)
            own = own_state.obj() if own_state is not None else None
            if own is not None:
                return None if _is_deleted_in(_db, own_state) else own
            if _key_deleted_in(_db, key):
                return None
        merged = _db.merge(obj, load=False)
        cls._fullcache.merges.bump()
        _db.info.setdefault(_MERGED_KEY, {})[key] = merged
        return merged

    @classmethod
    def _after_merge_failure(cls, _db, obj, error, lookup_hook):
        if lookup_hook is None:
            raise CacheMergeError(
                f"cached {cls.__name__} id={obj.id!r} cannot be merged into the session "
                f"({_describe(error)}); pass a lookup_hook to fetch a fresh copy, or "
                f"call {cls.__name__}.reset_cache()"
            ) from error
        fresh, new = lookup_hook()
        if fresh is None:
            raise error
        if cls._fullcache.reload_session is None:
            cls._cache_insert(fresh, cls._cache, cls._id_cache)
        return fresh, new

    @classmethod
    def by_id(cls, _db: Session, id: Any) -> Any:
        """The object with this primary key, or None."""
        # The hit path: a dict lookup and the check that the object belongs
        # to the caller's session (and was not deleted there); the rest of
        # the protocol lives in _cache_lookup.
        try:
            obj = cls._id_cache.get(id)
        except (AttributeError, TypeError):  # RESET, or an unhashable id
            obj = None
        if obj is not None:
            state = obj._sa_instance_state
            if state.session_id == _db.hash_key:
                if not state._deleted and state not in _db._deleted:
                    cls._count_hit()
                    return obj
            else:
                # Another session's object: the caller's own copy of the row
                # when it holds one (merged by an earlier lookup, say).
                own_state = _db.identity_map._dict.get(state.key)
                if own_state is not None and not own_state._deleted and own_state not in _db._deleted:
                    own = own_state.obj()
                    if own is not None:
                        cls._count_hit()
                        return own
        return _by_id_via_cache_lookup(cls, _db, id)

    @classmethod
    def by_cache_key(
        cls,
        _db: Session,
        cache_key: Any,
        lookup_hook: Optional[Callable[[], Tuple[Any, bool]]],
    ) -> Tuple[Any, bool]:
        """``(object, is_new)`` for this key; on a miss ``lookup_hook()``
        finds or creates the object."""
        # The hit path of by_id, written out again on purpose: a shared
        # helper would add a function call to every hit (see benchmarks/).
        try:
            obj = cls._cache.get(cache_key)
        except (AttributeError, TypeError):  # RESET, or an unhashable key
            obj = None
        if obj is not None:
            state = obj._sa_instance_state
            if state.session_id == _db.hash_key:
                if not state._deleted and state not in _db._deleted:
                    cls._count_hit()
                    return obj, False
            else:
                # Another session's object: the caller's own copy of the row
                # when it holds one (merged by an earlier lookup, say).
                own_state = _db.identity_map._dict.get(state.key)
                if own_state is not None and not own_state._deleted and own_state not in _db._deleted:
                    own = own_state.obj()
                    if own is not None:
                        cls._count_hit()
                        return own, False
        return cls._cache_lookup(_db, cls._cache, "_cache", cache_key, lookup_hook)

    # -- statistics ---------------------------------------------------------

    @classmethod
    def cache_stats(cls) -> CacheStats:
        """A snapshot of this model's statistics and last populate's problems."""
        state = cls._fullcache
        record = state.record
        cache, id_cache = cls._cache, cls._id_cache
        return CacheStats(
            hits=state.hits.value,
            misses=state.misses.value,
            populates=state.populates.value,
            merges=state.merges.value,
            merge_failures=state.merge_failures.value,
            last_populate_seconds=state.last_populate_seconds,
            last_populate_rows=state.last_populate_rows,
            cached_ids=0 if id_cache is cls.RESET else len(id_cache),
            cached_keys=0 if cache is cls.RESET else len(cache),
            # A row put back into the caches after the populate (the fresh
            # copy after a failed merge, a miss) is recorded again: once each.
            collisions={k: tuple(dict.fromkeys(v)) for k, v in list(record.collisions.items())},
            key_errors=_first_per_id(record.key_errors),
            none_keys=tuple(dict.fromkeys(record.none_keys)),
        )
