"""The graph of loaded objects a cached object keeps reachable.

Cached objects are rarely alone: joined eager collections, lazy loads done
by ``cache_key()``, back references, all hang other mapped objects off them,
and those hang more. Walking that graph is how merge failures and memory are
found without triggering a single load: only what is already in an object's
``__dict__`` is followed, as ``merge(load=False)`` follows it.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Sequence, Set, Tuple

from sqlalchemy.orm.base import instance_state

# Per mapper: (attribute key, is a collection, cascades merge) of each relationship.
_Edges = List[Tuple[str, bool, bool]]
_edges_of: Dict[Any, _Edges] = {}


def _edges(mapper: Any) -> _Edges:
    edges = _edges_of.get(mapper)
    if edges is None:
        edges = [(rel.key, bool(rel.uselist), bool(rel.cascade.merge)) for rel in mapper.relationships]
        _edges_of[mapper] = edges
    return edges


def has_relationships(cls: type) -> bool:
    """Whether the class or one of its mapped subclasses has relationships
    (without any, every object stands alone)."""
    from sqlalchemy import inspect

    mapper = inspect(cls, raiseerr=False)
    if mapper is None:
        return False
    return any(_edges(m) for m in mapper.self_and_descendants)


def related_states(state: Any, merge_only: bool = False) -> Iterator[Any]:
    """The instance states ``state`` refers to through its loaded
    relationships (only those cascading merge when ``merge_only``), in the
    order ``merge`` visits them. Nothing is loaded."""
    values = state.dict
    for key, uselist, merges in _edges(state.mapper):
        if key not in values or (merge_only and not merges):
            continue
        if uselist:
            collection = state.get_impl(key).get_collection(state, values)
            for item in collection:
                if item is not None:
                    yield instance_state(item)
        else:
            item = values[key]
            if item is not None:
                yield instance_state(item)


def state_of(obj: Any) -> Any:
    """The instance state of a mapped object, or None for anything else."""
    try:
        return instance_state(obj)
    except Exception:
        return None


def reachable(objects: Sequence[Any]) -> Dict[type, List[Any]]:
    """Every mapped object reachable from ``objects`` through loaded
    relationships (``objects`` included), once each, as instance states
    grouped by class."""
    groups: Dict[type, List[Any]] = {}
    first = next(iter(objects), None)
    if first is None:
        return groups
    if not has_relationships(type(first)):
        states = [s for s in map(state_of, objects) if s is not None]
        for state in states:
            groups.setdefault(state.class_, []).append(state)
        return groups
    seen: Set[int] = set()
    stack: List[Any] = []
    for obj in objects:
        state = state_of(obj)
        if state is None or id(state) in seen:
            continue
        seen.add(id(state))
        stack.append(state)
        while stack:
            current = stack.pop()
            groups.setdefault(current.class_, []).append(current)
            for child in related_states(current):
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append(child)
    return groups
