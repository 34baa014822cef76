"""The ``lookup`` report: one row found through a model's cache, and how fast
(``fullcache.lookup/1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..defaults import DEFAULT_REPEAT
from ..timing import ratio
from .common import json_key


LOOKUP_SCHEMA = "fullcache.lookup/1"


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
    cache_us: Optional[float] = None  # median of repeated lookups from one session
    first_hit_us: Optional[float] = None  # median of first lookups, each from a new session
    db_us: Optional[float] = None
    repeat: int = DEFAULT_REPEAT  # the most lookups timed of each kind
    # How many were timed (a time budget cuts slow lookups short).
    cache_samples: int = 0
    first_hit_samples: int = 0
    db_samples: int = 0
    reason: Optional[str] = None
    shadows: List[Any] = field(default_factory=list)
    suggestions: List[str] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def speedup(self) -> Optional[float]:
        """How many times faster a repeated cached lookup is than the
        database (below 1: slower), to three significant digits; None when
        either was not timed."""
        return ratio(self.db_us, self.cache_us)

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
            "first_hit_us": self.first_hit_us,
            "db_us": self.db_us,
            "speedup": self.speedup,
            "repeat": self.repeat,
            "cache_samples": self.cache_samples,
            "first_hit_samples": self.first_hit_samples,
            "db_samples": self.db_samples,
            "reason": self.reason,
            "shadows": self.shadows,
            "suggestions": self.suggestions,
            "error": self.error,
        }
