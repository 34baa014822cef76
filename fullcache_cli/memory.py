"""How much memory a model's caches keep reachable, estimated from samples.

Measuring a whole warm with tracemalloc slows it several times over, so the
caches are sized instead. The dicts are sized exactly. The objects are the
whole graph the caches keep alive: the cached rows and every mapped object
reachable from them through loaded relationships (joined eager collections,
what ``cache_key()`` loaded...), each counted once however many rows reach
it. The graph is walked in full (it costs a visit per object, no sizing);
each class's objects are then sized from an evenly spaced sample of them and
scaled up, so the sample sees every kind of object the graph holds. Objects
reachable from more than one sampled object (classes, mappers, shared
constants) are counted once for all, as they are in memory.

Objects of other cached models reachable from this one's are reported apart
(``shared``), under their own model's name: their bytes are kept alive by
this cache too, but they are rows of another table.
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from .loaded_graph import has_relationships, reachable
from .loading import follows_protocol
from .reports import Related

SAMPLE = 256

_CONTAINERS = (list, tuple, set, frozenset, dict)


@dataclass
class CacheMemory:
    """The memory a model's caches keep reachable."""

    own_bytes: int
    related: Dict[str, Related] = field(default_factory=dict)
    # The related objects themselves, by class, for the copies check (not reported).
    related_states: Dict[type, List[Any]] = field(default_factory=dict, repr=False)

    @property
    def shared_bytes(self) -> int:
        return sum(r.bytes for r in self.related.values())


def _walk(value: Any, into: Dict[int, int], depth: int = 0) -> None:
    """Add the objects owned by ``value`` to ``into`` (id -> size)."""
    if value is None or value is True or value is False or depth > 6:
        return
    key = id(value)
    if key in into:
        return
    if hasattr(value, "_sa_instance_state") and depth > 0:
        return  # a related mapped object: sized as an object of its own class
    into[key] = sys.getsizeof(value)
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(k, into, depth + 1)
            _walk(v, into, depth + 1)
    elif isinstance(value, _CONTAINERS):
        for item in value:
            _walk(item, into, depth + 1)
        # An ORM collection is a list with attributes (its adapter) of its own.
        attrs = getattr(value, "__dict__", None)
        if attrs is not None:
            _walk(attrs, into, depth + 1)


def _row_objects(obj: Any) -> Dict[int, int]:
    """The objects one cached ORM object owns: itself, its attribute values
    and its instance state."""
    owned: Dict[int, int] = {id(obj): sys.getsizeof(obj)}
    attrs = getattr(obj, "__dict__", None)
    if attrs is not None:
        owned[id(attrs)] = sys.getsizeof(attrs)
        for name, value in attrs.items():
            if name == "_sa_instance_state":
                _walk_state(value, owned)
            else:
                _walk(value, owned, 1)
    return owned


def _walk_state(state: Any, owned: Dict[int, int]) -> None:
    owned[id(state)] = sys.getsizeof(state)
    state_dict = getattr(state, "__dict__", None)
    if state_dict is not None:
        owned[id(state_dict)] = sys.getsizeof(state_dict)
        for value in state_dict.values():
            if isinstance(value, _CONTAINERS):
                _walk(value, owned, 1)
    for name in ("obj", "committed_state", "expired_attributes"):
        value = getattr(state, name, None)
        if value is not None:
            if isinstance(value, _CONTAINERS):
                _walk(value, owned, 1)
            else:
                owned.setdefault(id(value), sys.getsizeof(value))


def _unshared_total(graphs: List[Dict[int, int]]) -> int:
    seen = Counter(k for graph in graphs for k in graph)
    return sum(size for graph in graphs for k, size in graph.items() if seen[k] == 1)


def evenly(items: Iterable[Any], length: int, n: int) -> List[Any]:
    """About ``n`` items spread evenly over ``items`` (of ``length`` items),
    without copying them all."""
    if n <= 0:
        return []
    if length <= n:
        return list(items)
    step = length // n
    return list(itertools.islice(items, 0, None, step))[:n]


def _objects_bytes(states: List[Any], sample: int) -> int:
    chosen = evenly(states, len(states), sample)
    graphs = [_row_objects(obj) for obj in (state.obj() for state in chosen) if obj is not None]
    if not graphs:
        return 0
    return _unshared_total(graphs) * len(states) // len(graphs)


def _keys_bytes(key_cache: Dict[Any, Any], sample: int) -> int:
    entries = evenly(key_cache.items(), len(key_cache), sample)
    if not entries:
        return 0
    graphs = []
    for key, obj in entries:
        owned = _row_objects(obj)
        key_graph: Dict[int, int] = {}
        _walk(key, key_graph, 1)
        graphs.append({k: v for k, v in key_graph.items() if k not in owned})
    return _unshared_total(graphs) * len(key_cache) // len(entries)


def cache_memory(
    id_cache: Dict[Any, Any],
    key_cache: Dict[Any, Any],
    *,
    owner: Optional[type] = None,
    objects: Optional[List[Any]] = None,
    sample: int = SAMPLE,
) -> CacheMemory:
    """The bytes ``owner``'s two caches keep reachable: the dicts, the keys,
    the cached objects and everything reachable from them, with the objects
    of other cached models (classes that follow the protocol) counted apart,
    under their model's name.
    ``objects`` is every distinct cached object when the caller has it."""
    own = sys.getsizeof(id_cache) + sys.getsizeof(key_cache) + _keys_bytes(key_cache, sample)
    if objects is None:
        by_id = set(map(id, id_cache.values()))
        objects = [*id_cache.values(), *(obj for obj in key_cache.values() if id(obj) not in by_id)]
    memory = CacheMemory(own)
    if objects and not has_relationships(owner or type(objects[0])):
        # Nothing hangs off the rows: the sample is of the rows themselves.
        chosen = evenly(objects, len(objects), sample)
        memory.own_bytes += _unshared_total([_row_objects(obj) for obj in chosen]) * len(objects) // len(chosen)
        return memory
    for cls, states in reachable(objects).items():
        size = _objects_bytes(states, sample)
        if owner is None:
            owner = cls  # the class of the first cached object
        model = None if issubclass(cls, owner) or not follows_protocol(cls) else cls
        if model is None:
            memory.own_bytes += size
            continue
        related = memory.related.setdefault(model.__name__, Related(0, 0))
        related.objects += len(states)
        related.bytes += size
        memory.related_states.setdefault(model, []).extend(states)
    return memory


def estimate_cache_bytes(id_cache: Dict[Any, Any], key_cache: Dict[Any, Any], sample: int = SAMPLE) -> int:
    """Bytes retained by the two caches: the dicts, the keys and every
    object they keep reachable."""
    memory = cache_memory(id_cache, key_cache, sample=sample)
    return memory.own_bytes + memory.shared_bytes


def count_copies(model: type, states: List[Any]) -> Optional[int]:
    """How many of ``states`` (objects of ``model``) are not the objects
    ``model``'s own id cache holds for the same rows; None when that cache is
    not warm."""
    cache = getattr(model, "_id_cache", None)
    if not isinstance(cache, dict) or cache is getattr(model, "RESET", None):
        return None
    copies = 0
    for state in states:
        key = state.key
        ident = None if key is None else key[1][0] if len(key[1]) == 1 else key[1]
        if cache.get(ident) is not state.obj():
            copies += 1
    return copies
