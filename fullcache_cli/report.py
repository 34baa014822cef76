"""The reports fullcache's commands return: plain data, rendered elsewhere.

``to_json()`` on each report gives the documented JSON shape; keys appear as
JSON values where they are str, int, float, bool or None, tuples as arrays,
anything else as its repr.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional

SCHEMA = "fullcache.report/1"

# Kinds of problem, in the order the problems section lists them.
KINDS = (
    "unreadable",
    "not_run",
    "populate_error",
    "key_error",
    "collision",
    "none_key",
    "merge_failure",
    "lookup_error",
    "slow",
)

# Kinds that mean a model could not be read at all: warm itself exits 1.
UNREADABLE_KINDS = frozenset({"unreadable", "not_run"})


def json_key(key: Any) -> Any:
    """A cache key as a JSON value: scalars as themselves, tuples as arrays,
    anything else as its repr."""
    if key is None or isinstance(key, (str, bool, int)):
        return key
    if isinstance(key, float):
        return key if math.isfinite(key) else repr(key)
    if isinstance(key, tuple):
        return [json_key(part) for part in key]
    return repr(key)


@dataclass
class Collision:
    key: Any
    ids: List[Any]
    kept_id: Any

    def to_json(self) -> dict:
        return {"key": json_key(self.key), "ids": self.ids, "kept_id": self.kept_id}


@dataclass
class RowError:
    """A row and what went wrong with it (a key error or a merge failure)."""

    id: Any
    error: str

    def to_json(self) -> dict:
        return {"id": self.id, "error": self.error}


@dataclass
class Lookups:
    """Hit timings through the model's own lookup, against a primary-key query."""

    samples: int
    cache_p50_us: float
    cache_p99_us: float
    db_p50_us: Optional[float]
    db_p99_us: Optional[float]

    def to_json(self) -> dict:
        return {
            "samples": self.samples,
            "cache_p50_us": self.cache_p50_us,
            "cache_p99_us": self.cache_p99_us,
            "db_p50_us": self.db_p50_us,
            "db_p99_us": self.db_p99_us,
        }


@dataclass
class Problem:
    model: str
    kind: str
    ids: List[Any] = field(default_factory=list)
    key: Any = None
    error: Optional[str] = None

    def to_json(self) -> dict:
        return {"model": self.model, "kind": self.kind, "ids": self.ids, "key": json_key(self.key), "error": self.error}


@dataclass
class ModelReport:
    """What warming one model observed."""

    model: str
    table: str
    mixin: str
    mixin_class: str
    status: str = "ok"  # "ok", "error" (could not be read) or "not run"
    error: Optional[str] = None
    rows: Optional[int] = None
    cached_ids: Optional[int] = None
    cached_keys: Optional[int] = None
    collisions: List[Collision] = field(default_factory=list)
    none_keys: List[Any] = field(default_factory=list)
    key_errors: List[RowError] = field(default_factory=list)
    populate_error: Optional[str] = None
    merge_failures: List[RowError] = field(default_factory=list)
    warm_seconds: Optional[float] = None
    memory_bytes: Optional[int] = None
    lookups: Optional[Lookups] = None
    lookup_error: Optional[str] = None
    # Filled by inspect only.
    extra: Dict[str, Any] = field(default_factory=dict)

    def problems(self, max_warm_seconds: Optional[float] = None) -> List[Problem]:
        found: List[Problem] = []
        if self.status == "not run":
            found.append(Problem(self.model, "not_run", error=self.error))
            return found
        if self.status == "error":
            found.append(Problem(self.model, "unreadable", error=self.error))
            return found
        if self.populate_error:
            found.append(Problem(self.model, "populate_error", error=self.populate_error))
        found += [Problem(self.model, "key_error", [e.id], error=e.error) for e in self.key_errors]
        found += [Problem(self.model, "collision", list(c.ids), key=c.key) for c in self.collisions]
        if len(self.none_keys) > 1:
            found.append(Problem(self.model, "none_key", list(self.none_keys), error="rows share the key None"))
        found += [Problem(self.model, "merge_failure", [m.id], error=m.error) for m in self.merge_failures]
        if self.lookup_error:
            found.append(Problem(self.model, "lookup_error", error=self.lookup_error))
        if (
            max_warm_seconds is not None
            and self.warm_seconds is not None
            and self.warm_seconds > max_warm_seconds
        ):
            found.append(
                Problem(
                    self.model,
                    "slow",
                    error=f"warmed in {self.warm_seconds:.3f} s, over --max-warm-seconds {max_warm_seconds:g}",
                )
            )
        return found

    def to_json(self) -> dict:
        data = {
            "model": self.model,
            "table": self.table,
            "mixin": self.mixin,
            "mixin_class": self.mixin_class,
            "status": self.status,
            "error": self.error,
            "rows": self.rows,
            "cached_ids": self.cached_ids,
            "cached_keys": self.cached_keys,
            "collisions": [c.to_json() for c in self.collisions],
            "none_keys": list(self.none_keys),
            "key_errors": [e.to_json() for e in self.key_errors],
            "populate_error": self.populate_error,
            "merge_failures": [m.to_json() for m in self.merge_failures],
            "warm_seconds": self.warm_seconds,
            "memory_bytes": self.memory_bytes,
            "lookups": self.lookups.to_json() if self.lookups else None,
            "lookup_error": self.lookup_error,
        }
        data.update(self.extra)
        return data


@dataclass
class WarmReport:
    """Every model's observations, and the verdict of ``check``."""

    database: str
    models: List[ModelReport]
    seconds: float = 0.0
    allowed: FrozenSet[str] = frozenset()
    max_warm_seconds: Optional[float] = None

    def problems(self) -> List[Problem]:
        found = [
            p
            for m in self.models
            for p in m.problems(self.max_warm_seconds)
            if p.kind not in self.allowed
        ]
        order = {kind: n for n, kind in enumerate(KINDS)}
        return sorted(found, key=lambda p: order[p.kind])

    @property
    def ok(self) -> bool:
        return not self.problems()

    @property
    def unreadable(self) -> bool:
        """Some model could not be read at all (warm exits 1)."""
        return any(m.status != "ok" for m in self.models)

    def to_json(self) -> dict:
        problems = self.problems()
        return {
            "schema": SCHEMA,
            "database": self.database,
            "models": [m.to_json() for m in self.models],
            "problems": len(problems),
            "ok": not problems,
        }
