"""verify's report: how far each model's caches have drifted from its table,
row by row (``fullcache.verify/1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .common import PerModel, Status, json_key, json_value, plural
from .warm import Problem


VERIFY_SCHEMA = "fullcache.verify/1"


VERIFY_SCOPE = "mapped column values of the cached objects; relationships are not compared"


@dataclass
class StaleRow:
    """A cached row whose table row differs now."""

    id: Any
    columns: Dict[str, Tuple[Any, Any]]  # column -> (cached value, table value)
    key_moved: bool
    cached_key: Any
    table_key: Any

    def to_json(self) -> dict:
        columns = {name: {"cached": json_value(old), "table": json_value(new)} for name, (old, new) in self.columns.items()}
        return {
            "id": self.id, "columns": columns, "key_moved": self.key_moved,
            "cached_key": json_key(self.cached_key), "table_key": json_key(self.table_key),
        }


@dataclass
class KeyDrift:
    """A key-cache entry whose row no longer has that key: ``table_ids`` are
    the rows that have it now (empty: none does)."""

    key: Any
    cached_id: Any
    table_ids: List[Any]

    def to_json(self) -> dict:
        return {"key": json_key(self.key), "cached_id": self.cached_id, "table_ids": list(self.table_ids)}


DRIFT_COUNTS = ("stale", "missing", "extra", "key_drift")


@dataclass
class ModelDrift(PerModel):
    """How one model's caches compare with its table."""

    populated: bool = False  # the caches were reset: verify populated them
    populate_error: Optional[str] = None
    rows: Optional[int] = None
    cached_ids: Optional[int] = None
    cached_keys: Optional[int] = None
    stale: List[StaleRow] = field(default_factory=list)
    missing: List[Any] = field(default_factory=list)
    extra: List[Any] = field(default_factory=list)
    key_drift: List[KeyDrift] = field(default_factory=list)
    unloaded: int = 0  # cached objects with a mapped column not loaded (not compared)

    @property
    def drift(self) -> bool:
        return bool(self.stale or self.missing or self.extra or self.key_drift)

    def counts(self) -> Dict[str, int]:
        return {name: len(getattr(self, name)) for name in DRIFT_COUNTS}

    def drift_problem(self) -> Problem:
        """``check --verify``'s problem for this model."""
        n = self.counts()
        return Problem(self.model, "drift", [s.id for s in self.stale] + self.missing + self.extra, error=(
            f"caches differ from the table: {n['stale']:,} stale, {n['missing']:,} missing, {n['extra']:,} extra, "
            f"{plural(n['key_drift'], 'key')} drifted"
        ))

    def to_json(self) -> dict:
        return {
            **self.head_json(),
            "populated": self.populated,
            "populate_error": self.populate_error,
            "rows": self.rows,
            "cached_ids": self.cached_ids,
            "cached_keys": self.cached_keys,
            "counts": self.counts(),
            "drift": self.drift,
            "stale": [s.to_json() for s in self.stale],
            "missing": list(self.missing),
            "extra": list(self.extra),
            "key_drift": [k.to_json() for k in self.key_drift],
            "unloaded": self.unloaded,
        }


@dataclass
class VerifyReport:
    """Every model's drift; ``ok`` when none drifted and all could be read."""

    database: str
    models: List[ModelDrift]
    seconds: float = 0.0
    after_seconds: Optional[float] = None  # the command line's wait after its warm

    @property
    def drifted(self) -> List[ModelDrift]:
        return [m for m in self.models if m.drift]

    @property
    def ok(self) -> bool:
        """Nothing drifted, and every model could be read."""
        return not self.drifted and all(m.status is Status.OK for m in self.models)

    def counts(self) -> Dict[str, int]:
        return {name: sum(m.counts()[name] for m in self.models) for name in DRIFT_COUNTS}

    def to_json(self) -> dict:
        return {
            "schema": VERIFY_SCHEMA,
            "database": self.database,
            "scope": VERIFY_SCOPE,
            "after_seconds": self.after_seconds,
            "seconds": self.seconds,
            "models": [m.to_json() for m in self.models],
            "counts": self.counts(),
            "drifted_models": [m.model for m in self.drifted],
            "ok": self.ok,
        }
