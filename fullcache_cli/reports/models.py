"""The ``models`` report: the cached models a module declares (``fullcache.models/1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional

if TYPE_CHECKING:
    from ..loading import CachedModel


MODELS_SCHEMA = "fullcache.models/1"


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
