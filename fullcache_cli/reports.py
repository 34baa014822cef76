"""Every report fullcache's commands return, and its JSON schema: plain
data, rendered elsewhere (render.py).

``to_json()`` on each report gives the documented JSON shape; keys appear as
JSON values where they are str, int, float, bool or None, tuples as arrays,
anything else as its repr. Standard library only: the command line imports
this module before it loads SQLAlchemy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Optional

from .defaults import DEFAULT_LIMIT, DEFAULT_REPEAT

if TYPE_CHECKING:
    from .loading import CachedModel

SCHEMA = "fullcache.report/1"
MODELS_SCHEMA = "fullcache.models/1"
INSPECT_SCHEMA = "fullcache.inspect/1"
LOOKUP_SCHEMA = "fullcache.lookup/1"
COHERENCE_STATUS_SCHEMA = "fullcache.coherence-status/1"
COHERENCE_CHANGE_SCHEMA = "fullcache.coherence-change/1"


class Status(str, Enum):
    """Whether a model was read; the value is its JSON spelling."""

    OK = "ok"
    ERROR = "error"  # could not be read
    NOT_RUN = "not run"  # the connection was lost before its turn

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


def json_value(value: Any) -> Any:
    """A column value as JSON: scalars as themselves, anything else as text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


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
    status: Status = Status.OK
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

    def problems(self, max_warm_seconds: Optional[float] = None) -> List[Problem]:
        found: List[Problem] = []
        if self.status is Status.NOT_RUN:
            found.append(Problem(self.model, "not_run", error=self.error))
            return found
        if self.status is Status.ERROR:
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
                    error=f"warmed in {self.warm_seconds:.3f} s, over the limit of {max_warm_seconds:g} s",
                )
            )
        return found

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "table": self.table,
            "mixin": self.mixin,
            "mixin_class": self.mixin_class,
            "status": self.status.value,
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
        return any(m.status is not Status.OK for m in self.models)

    def to_json(self) -> dict:
        problems = self.problems()
        return {
            "schema": SCHEMA,
            "database": self.database,
            "models": [m.to_json() for m in self.models],
            "problems": len(problems),
            "ok": not problems,
        }


@dataclass
class ModelRow:
    """One cached model of the listing, and its rows (or why not counted)."""

    model: "CachedModel"
    rows: Optional[int] = None
    error: Optional[str] = None

    def to_json(self) -> dict:
        return {**self.model.as_dict(), "rows": self.rows, "error": self.error}


@dataclass
class ModelsReport:
    """The cached models of a models module, with their row counts."""

    database: str
    models: List[ModelRow] = field(default_factory=list)

    @property
    def unreadable(self) -> bool:
        return any(row.error for row in self.models)

    def to_json(self) -> dict:
        return {"schema": MODELS_SCHEMA, "database": self.database, "models": [m.to_json() for m in self.models]}


@dataclass
class Entry:
    """One entry of a key cache, as inspect shows it."""

    key: Any
    id: Any
    repr: str

    def to_json(self) -> dict:
        return {"key": json_key(self.key), "id": self.id, "repr": self.repr}


@dataclass
class InspectReport:
    """Everything warm observed about one model, plus the shapes of its keys,
    the mixin's statistics and a sample of entries."""

    database: str
    model: ModelReport
    key_types: Dict[str, int] = field(default_factory=dict)
    stats: Optional[dict] = None
    entries: List[Entry] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT

    def to_json(self) -> dict:
        return {
            "schema": INSPECT_SCHEMA,
            "database": self.database,
            **self.model.to_json(),
            "key_types": self.key_types,
            "stats": self.stats,
            "entries": [e.to_json() for e in self.entries],
        }


@dataclass
class Merge:
    """Whether the cached object merged into a second session."""

    ok: bool
    error: Optional[str] = None

    def to_json(self) -> dict:
        return {"ok": self.ok, "error": self.error}


@dataclass
class LookupReport:
    """One lookup through the model's own by_cache_key (or by_id)."""

    database: str
    model: str
    key: Any
    by: str  # "key" or "id"
    found: bool = False
    source: Optional[str] = None  # "cache", "database" or None
    id: Any = None
    values: Optional[Dict[str, Any]] = None
    merge: Optional[Merge] = None
    cache_us: Optional[float] = None
    db_us: Optional[float] = None
    repeat: int = DEFAULT_REPEAT
    reason: Optional[str] = None
    shadows: List[Any] = field(default_factory=list)
    suggestions: List[str] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def speedup(self) -> Optional[float]:
        if self.cache_us and self.db_us:
            return round(self.db_us / self.cache_us, 1)
        return None

    def to_json(self) -> dict:
        return {
            "schema": LOOKUP_SCHEMA,
            "database": self.database,
            "model": self.model,
            "key": json_key(self.key),
            "by": self.by,
            "found": self.found,
            "source": self.source,
            "id": self.id,
            "values": self.values,
            "merge": self.merge.to_json() if self.merge else None,
            "cache_us": self.cache_us,
            "db_us": self.db_us,
            "speedup": self.speedup,
            "repeat": self.repeat,
            "reason": self.reason,
            "shadows": self.shadows,
            "suggestions": self.suggestions,
            "error": self.error,
        }


# -- coherence ------------------------------------------------------------------


STATUS_SCHEMA = "fullcache.coherence-status/1"
CHANGE_SCHEMA = "fullcache.coherence-change/1"

@dataclass
class ChangeReport:
    """What coherence install, uninstall or invalidate did (or, with
    ``written`` False, the SQL it would run)."""

    action: str
    database: str
    backend: str
    tables: List[str]
    sql: str
    written: bool
    created: List[str] = field(default_factory=list)
    removed: List[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "schema": COHERENCE_CHANGE_SCHEMA, "action": self.action, "database": self.database, "backend": self.backend,
            "tables": self.tables, "written": self.written, "created": self.created, "removed": self.removed,
            "sql": self.sql,
        }


@dataclass
class TableStatus:
    """One cached table's change capture."""

    model: str
    table: str
    trigger: Optional[str]  # "enabled always", "enabled", "disabled", or None: missing
    generation: Optional[int]
    commits_last_minute: Optional[int]

    def to_json(self) -> dict:
        return {"model": self.model, "table": self.table, "trigger": self.trigger, "generation": self.generation,
                "commits_last_minute": self.commits_last_minute}


@dataclass
class StatusReport:
    """Change capture on one database: ``fullcache coherence status``."""

    database: str
    backend: str
    installed: bool
    tables: List[TableStatus]
    listeners: List[dict]
    queue_usage: Optional[float]
    warnings: List[str]

    @property
    def ok(self) -> bool:
        return self.installed and all(t.trigger in ("enabled always", "sqlite") for t in self.tables)

    def to_json(self) -> dict:
        return {
            "schema": COHERENCE_STATUS_SCHEMA, "database": self.database, "backend": self.backend, "installed": self.installed,
            "capture": "database" if self.installed else "orm (raw SQL invisible)",
            "tables": [t.to_json() for t in self.tables], "listeners": self.listeners,
            "notification_queue_usage": self.queue_usage, "warnings": self.warnings, "ok": self.ok,
        }


@dataclass
class WatchEvent:
    """One change notification, as ``fullcache watch`` shows it."""

    table: str
    txid: Optional[int]
    sender_pid: int
    delay_ms: Optional[float]
    received_at: float

    def to_json(self) -> dict:
        return {"table": self.table, "txid": self.txid, "sender_pid": self.sender_pid,
                "delay_ms": self.delay_ms, "received_at": self.received_at}
