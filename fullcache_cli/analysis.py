"""What warm observes about a model's caches, as pure functions over the
class, its caches and its rows: no database, no session of the caller's.

Unit tests call them on plain Python classes or transient mapped objects;
warming.py runs them on what a real populate built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List

from .errors import describe as describe_error
from .reports import Collision, ModelReport, RowError
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
    except Exception:
        return None


def _sorted_objects(objects: List[Any]) -> List[Any]:
    try:
        return sorted(objects, key=row_id)
    except TypeError:
        return objects


def _sorted(ids: List[Any]) -> List[Any]:
    try:
        return sorted(ids)
    except TypeError:
        return ids


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
        except Exception as error:
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
    found.key_errors.sort(key=lambda e: (str(type(e.id)), e.id if e.id is not None else 0))
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
