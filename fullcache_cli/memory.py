"""How much memory a model's caches retain, estimated from a sample.

Measuring a whole warm with tracemalloc slows it several times over, so the
caches are sized instead: the two dicts exactly, the objects and the keys by
walking an evenly spaced sample of them and scaling up. Objects reachable
from more than one sampled row (classes, mappers, shared constants) are
counted once for all, as they are in memory.
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from typing import Any, Dict, Iterable, List

SAMPLE = 256

_CONTAINERS = (list, tuple, set, frozenset, dict)


def _walk(value: Any, into: Dict[int, int], depth: int = 0) -> None:
    """Add the objects owned by ``value`` to ``into`` (id -> size)."""
    if value is None or value is True or value is False or depth > 6:
        return
    key = id(value)
    if key in into:
        return
    if hasattr(value, "_sa_instance_state") and depth > 0:
        return  # a related mapped object: sized as a row of its own table
    into[key] = sys.getsizeof(value)
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(k, into, depth + 1)
            _walk(v, into, depth + 1)
    elif isinstance(value, _CONTAINERS):
        for item in value:
            _walk(item, into, depth + 1)


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


def estimate_cache_bytes(id_cache: Dict[Any, Any], key_cache: Dict[Any, Any], sample: int = SAMPLE) -> int:
    """Bytes retained by the two caches: the dicts, the distinct objects in
    them and the keys of the key cache."""
    total = sys.getsizeof(id_cache) + sys.getsizeof(key_cache)
    objects = id_cache.values() if id_cache else key_cache.values()
    chosen = evenly(objects, len(objects), sample)
    if chosen:
        graphs = [_row_objects(obj) for obj in chosen]
        total += _unshared_total(graphs) * len(objects) // len(chosen)
    entries = evenly(key_cache.items(), len(key_cache), sample)
    if entries:
        graphs = []
        for key, obj in entries:
            owned = _row_objects(obj)
            key_graph: Dict[int, int] = {}
            _walk(key, key_graph, 1)
            graphs.append({k: v for k, v in key_graph.items() if k not in owned})
        total += _unshared_total(graphs) * len(key_cache) // len(entries)
    return total
