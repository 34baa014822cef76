"""What warm observes about a model's caches, as pure functions over the
class, its caches and its rows: no database, no session of the caller's.

Unit tests call them on plain Python classes or transient mapped objects;
warming.py runs them on what a real populate built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional

from .errors import describe as describe_error
from .errors import reraise_interrupt
from .reports import Collision, ModelReport, RowError, UnreachableKey, safe_repr
from .row_values import differing_columns

Describe = Callable[[BaseException], str]


def _as_dict(value: Any, reset: Any) -> dict:
    return value if isinstance(value, dict) and value is not reset else {}


def model_caches(cls: type) -> tuple[dict, dict]:
    """The model's id cache and key cache as they are now (empty when reset)."""
    return _as_dict(cls._id_cache, cls.RESET), _as_dict(cls._cache, cls.RESET)


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
