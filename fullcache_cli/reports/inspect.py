"""The ``inspect`` report: one model's cache, entry by entry (``fullcache.inspect/1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..defaults import DEFAULT_LIMIT
from .common import json_key
from .warm import ModelReport


INSPECT_SCHEMA = "fullcache.inspect/1"


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
