"""What warm observes about a model's caches, as pure functions over the
class, its caches and its rows: no database, no session of the caller's.

Unit tests call them on plain Python classes or transient mapped objects;
warming.py runs them on what a real populate built, verifying.py
(``Comparison``) on the caches as they are and the table's rows read now.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.base import instance_state

from .errors import describe as describe_error
from .errors import reraise_interrupt
from .reports import Collision, KeyDrift, ModelReport, RowError, StaleRow, UnreachableKey, safe_repr
from .row_values import differing_columns

Describe = Callable[[BaseException], str]


def _as_dict(value: Any, reset: Any) -> dict:
    return value if isinstance(value, dict) and value is not reset else {}


def model_caches(cls: type) -> tuple[dict, dict]:
    """The model's id cache and key cache as they are now (empty when reset,
    or when the class has none: see loading.shared_cache)."""
    reset = getattr(cls, "RESET", None)
    return _as_dict(getattr(cls, "_id_cache", None), reset), _as_dict(getattr(cls, "_cache", None), reset)


def row_id(obj: Any) -> Any:
    """``obj.id``, or None when it cannot be read."""
    try:
        return obj.id
    except BaseException as error:
        reraise_interrupt(error)
        return None


def id_order(value: Any) -> tuple:
    """A sort key that orders any ids, whatever they mix: None, numbers,
    text, tuples of them (a composite primary key with NULL in it) and
    anything else (by its type and repr)."""
    if value is None:
        return (0,)
    if isinstance(value, (int, float)) and value == value:
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, tuple):
        return (3, tuple(id_order(part) for part in value))
    return (4, type(value).__name__, safe_repr(value))


def _sorted_objects(objects: List[Any]) -> List[Any]:
    return sorted(objects, key=lambda obj: id_order(row_id(obj)))


def _sorted(ids: List[Any]) -> List[Any]:
    return sorted(ids, key=id_order)


def cached_objects(id_cache: dict, key_cache: dict) -> List[Any]:
    """Every object either cache holds, once."""
    by_id = set(map(id, id_cache.values()))
    return [*id_cache.values(), *(obj for obj in key_cache.values() if id(obj) not in by_id)]


@dataclass
class KeyProblems:
    """What went wrong with the keys of a table's rows."""

    collisions: List[Collision] = field(default_factory=list)
    key_errors: List[RowError] = field(default_factory=list)
    none_keys: List[Any] = field(default_factory=list)


def key_problems(rows: Iterable[Any], key_cache: dict, describe: Describe = describe_error) -> KeyProblems:
    """Collisions, key errors and None keys of ``rows`` (every row of the
    table), given the key cache populate built. Only rows whose object is not
    a value of the key cache have their ``cache_key()`` computed again."""
    found = KeyProblems()
    kept = set(map(id, key_cache.values()))
    losers: dict = {}
    none_keys = []
    for obj in rows:
        if id(obj) in kept:
            continue
        this_id = row_id(obj)
        try:
            key = obj.cache_key()
            if key is not None:
                hash(key)
        except BaseException as error:
            reraise_interrupt(error)
            found.key_errors.append(RowError(this_id, describe(error)))
            continue
        if key is None:
            none_keys.append(this_id)
        else:
            losers.setdefault(key, []).append(obj)
    if None in key_cache:
        none_keys.append(row_id(key_cache[None]))
    found.none_keys = _sorted(none_keys)
    for key, objects in losers.items():
        held = key_cache.get(key)
        kept_id = None if held is None else row_id(held)
        others = _sorted_objects(objects)
        every = others if held is None else [held] + others
        if len(every) > 1:
            ids = _sorted([row_id(obj) for obj in every])
            found.collisions.append(Collision(key, ids, kept_id, differing_columns(every)))
    found.key_errors.sort(key=lambda e: id_order(e.id))
    return found


# Types whose values always equal themselves and hash the same every time.
_STABLE = frozenset({str, int, bool, type(None), bytes})


def _unstable(key: Any, describe: Describe) -> Optional[str]:
    """Why ``key`` could never be found again by an equal key computed
    anew, or None. Tuples and frozensets are looked into: their own
    equality takes each part as equal to itself."""
    kind = type(key)
    if kind in _STABLE:
        return None
    if kind is float:
        return None if key == key else "the key is not equal to itself (NaN): no lookup can find it"
    try:
        if kind is tuple or kind is frozenset:
            return next(filter(None, (_unstable(part, describe) for part in key)), None)
        if hash(key) != hash(key):
            return "the key's hash changes each time it is computed: no lookup can find it"
        if not key == key:
            return "the key is not equal to itself: no lookup can find it"
    except BaseException as error:
        reraise_interrupt(error)
        return f"the key's hash or equality raises: {describe(error)}"
    return None


def unreachable_keys(key_cache: dict, describe: Describe = describe_error) -> List[UnreachableKey]:
    """The key cache's entries that ``by_cache_key`` can never find: a key
    not equal to itself (NaN, or a tuple holding one), a key whose hash
    differs when computed again or since it was cached."""
    found = []
    for key, obj in list(key_cache.items()):
        kind = type(key)
        if kind in _STABLE or (kind is tuple and all(type(part) in _STABLE for part in key)):
            continue
        why = _unstable(key, describe)
        if why is None:
            try:
                if key_cache.get(key) is not obj:
                    why = "the key's hash changed since it was cached: no lookup can find it"
            except BaseException as error:
                reraise_interrupt(error)
                why = f"the key's hash or equality raises: {describe(error)}"
        if why is not None:
            found.append(UnreachableKey(key, row_id(obj), why))
    found.sort(key=lambda u: id_order(u.id))
    return found


def lost_reason(row: Any, warmed: ModelReport) -> str:
    """Why a row the table has was not served from the cache, by what warm
    observed."""
    for problem in warmed.key_errors:
        if problem.id == row:
            return f"its cache_key() failed at populate: {problem.error}"
    for collision in warmed.collisions:
        if row in collision.ids and row != collision.kept_id:
            return f"its key is held by row {collision.kept_id} (a collision)"
    if row in warmed.none_keys:
        return "its key is None"
    for failure in warmed.merge_failures:
        if failure.id == row:
            return f"the cached copy cannot be merged: {failure.error}"
    return "the row is not in the cache"


# -- verify: the caches against their table read now -------------------------


class Comparison:
    """The comparison of one model's caches with its table, fed the table's
    rows one at a time (``add``), then closed with ``finish``.

    Needs no database itself: ``finish`` is given ``present(primary_keys,
    objects)``, which says which of those rows the table has (with each row
    as an object when ``objects``), used only when the counts show that
    cached rows are gone or keys point elsewhere.
    """

    batch_size = 1000  # primary keys asked of ``present`` at a time

    def __init__(self, cls: type, id_cache: dict, key_cache: dict) -> None:
        self.cls = cls
        self.id_cache = id_cache
        self.key_cache = key_cache
        self.columns = [attr.key for attr in sa_inspect(cls).column_attrs]
        self.rows = 0
        self.matched = 0  # table rows found in the id cache
        self.confirmed = 0  # table rows the key cache serves under their key
        self.stale: List[StaleRow] = []
        self.missing: List[Any] = []
        self.extra: List[Any] = []
        self.key_drift: List[KeyDrift] = []
        self.unloaded = 0
        # Rows whose key does not lead to them (collisions, None keys, key
        # errors, new keys): row id -> their key now.
        self.unserved: Dict[Any, Any] = {}
        # Keys held for one row that another row has now: key -> those rows.
        self.holders: Dict[Any, List[Any]] = {}

    def add(self, row: Any) -> None:
        """Compare one row of the table (an object loaded now)."""
        self.rows += 1
        this_id = row_id(row)
        cached = _get(self.id_cache, this_id)
        changes: Dict[str, tuple] = {}
        if cached is None:
            self.missing.append(this_id)
        else:
            self.matched += 1
            changes = self.changes(cached, row)
        key = _key_of(row)
        if changes:
            old_key = _key_with(row, changes)
            self.stale.append(StaleRow(this_id, changes, not _same(old_key, key), old_key, key))
        held = _get(self.key_cache, key) if not isinstance(key, _KeyError) else None
        if held is not None and _same(row_id(held), this_id):
            self.confirmed += 1
            return
        self.unserved[this_id] = key
        if held is not None:
            self.holders.setdefault(key, []).append(this_id)

    def changes(self, cached: Any, row: Any) -> Dict[str, tuple]:
        """The mapped columns whose cached value differs from the table's."""
        try:
            cached_values = instance_state(cached).dict
        except Exception:
            cached_values = getattr(cached, "__dict__", {})
        table_values = instance_state(row).dict
        changes = {}
        unloaded = False
        for name in self.columns:
            if name not in cached_values:
                unloaded = True
                continue
            if name not in table_values:
                continue  # deferred, and not loaded by the stream either
            old, new = cached_values[name], table_values[name]
            if not _same(old, new):
                changes[name] = (old, new)
        self.unloaded += unloaded
        return changes

    def finish(self, present: Callable[[Sequence[tuple], bool], Dict[tuple, Any]]) -> None:
        """Find the cached ids no longer in the table and the drifted keys.
        Another thread of the application may add to the caches meanwhile (a
        lookup hook's row): the passes over them then start again."""
        for attempt in range(3):
            try:
                if self.matched < len(self.id_cache):
                    self.extra = self.gone_ids(present)
                if self.confirmed < len(self.key_cache):
                    self.key_drift = self.drifted_keys(present)
                if self.stale:
                    self.file_stale_keys()
                break
            except RuntimeError:  # a dict changed size during iteration
                if attempt == 2:
                    raise
        self.stale.sort(key=lambda s: _order(s.id))
        self.missing, self.extra = _sorted(self.missing), _sorted(self.extra)

    def file_stale_keys(self) -> None:
        """Each stale row's ``cached_key``: the key the key cache files its
        cached object under, where it does. Computing it again from the
        cached column values misses what ``cache_key()`` reads through a
        relationship (a changed foreign key loads the related row of now);
        one pass over the key cache, holding only the stale rows' keys."""
        stale = {}
        for found in self.stale:
            stale.setdefault(found.id, []).append(found)
        filed: Dict[Any, Any] = {}
        for key, obj in self.key_cache.items():
            held_id = row_id(obj)  # what cannot be hashed is no stale row's
            if _get(stale, held_id) is not None and _get(filed, held_id, _SERVED) is _SERVED:
                filed[held_id] = key
        for held_id, key in filed.items():
            for found in stale[held_id]:
                found.cached_key = key
                found.key_moved = not _same(key, found.table_key)

    def gone_ids(self, present: Callable[[Sequence[tuple], bool], Dict[tuple, Any]]) -> List[Any]:
        gone = []
        expected = len(self.id_cache) - self.matched
        for batch in _batches(self.id_cache.items(), self.batch_size):
            identities = {}
            for cached_id, obj in batch:
                identity = _identity(obj)
                if identity is None:
                    gone.append(cached_id)  # an object that was never a row
                else:
                    identities[cached_id] = identity
            found = present(list(identities.values()), False) if identities else {}
            gone += [cached_id for cached_id, identity in identities.items() if identity not in found]
            if len(gone) >= expected:
                break
        return gone

    def drifted_keys(self, present: Callable[[Sequence[tuple], bool], Dict[tuple, Any]]) -> List[KeyDrift]:
        """Key-cache entries whose row is gone or has another key now."""
        gone = _Members(self.extra)

        def moved(key: Any, held_id: Any) -> bool:
            now = _get(self.unserved, held_id, _SERVED)
            return held_id in gone or (now is not _SERVED and not _same(now, key))

        def entry(key: Any, held_id: Any) -> KeyDrift:
            return KeyDrift(key, held_id, _sorted(self.holders.get(key, [])))

        drifted = [entry(key, row_id(obj)) for key, obj in self.key_cache.items() if moved(key, row_id(obj))]
        # Every row served under its key confirmed one entry; entries left
        # over point to a row that is not in the table, or share their row
        # with another entry: read those rows again and compute their keys
        # (a second pass, rather than a list of every undecided entry).
        if len(drifted) < len(self.key_cache) - self.confirmed:
            undecided = (
                (key, obj, held_id)
                for key, obj in self.key_cache.items()
                for held_id in (row_id(obj),)
                if not moved(key, held_id)
            )
            for batch in _batches(undecided, self.batch_size):
                identities = [_identity(obj) for _, obj, _ in batch]
                found = present([i for i in identities if i is not None], True)
                for (key, obj, held_id), identity in zip(batch, identities):
                    row = found.get(identity) if identity is not None else None
                    if row is None or not _same(_key_of(row), key):
                        drifted.append(entry(key, held_id))
        drifted.sort(key=lambda d: _order(d.cached_id))
        return drifted


class _KeyError:
    """A key that could not be computed or hashed."""

    def __init__(self, error: str) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"<key error: {self.error}>"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _KeyError) and other.error == self.error

    def __hash__(self) -> int:
        return hash(self.error)


def _key_of(row: Any) -> Any:
    try:
        key = row.cache_key()
        hash(key)
    except BaseException as error:
        reraise_interrupt(error)
        return _KeyError(describe_error(error))
    return key


def _key_with(row: Any, changes: Dict[str, tuple]) -> Any:
    """The key the row had with its cached values (computed on the row read
    now, given the cached values, never on the application's object)."""
    for name, (cached, _) in changes.items():
        set_committed_value(row, name, cached)
    try:
        return _key_of(row)
    finally:
        for name, (_, now) in changes.items():
            set_committed_value(row, name, now)


def _identity(obj: Any) -> Optional[tuple]:
    try:
        key = instance_state(obj).key
    except Exception:
        return None
    return key[1] if key is not None else None


def _get(cache: dict, key: Any, default: Any = None) -> Any:
    try:
        return cache.get(key, default)
    except Exception:  # unhashable, or a key whose __eq__ raises
        return default


_SERVED = object()


class _Members:
    """A set that answers False for what cannot be hashed."""

    def __init__(self, items: Iterable[Any]) -> None:
        self._items = dict.fromkeys(items)

    def __contains__(self, item: Any) -> bool:
        return _get(self._items, item, _SERVED) is not _SERVED


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:
        return False


def _order(value: Any) -> tuple:
    return (str(type(value)), value if value is not None else 0)


def _batches(items: Iterable[Any], size: int) -> Iterator[list]:
    iterator = iter(items)
    while True:
        batch = list(itertools.islice(iterator, size))
        if not batch:
            return
        yield batch
