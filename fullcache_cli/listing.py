"""The models listing: each cached model, its table, its mixin and its rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence

from sqlalchemy import func, select

from .database import connection_for, session_on
from .errors import describe
from .loading import CachedModel

SCHEMA = "fullcache.models/1"


@dataclass
class ModelRow:
    model: CachedModel
    rows: Optional[int] = None
    error: Optional[str] = None

    def to_json(self) -> dict:
        return {**self.model.as_dict(), "rows": self.rows, "error": self.error}


@dataclass
class ModelsReport:
    database: str
    models: List[ModelRow] = field(default_factory=list)

    @property
    def unreadable(self) -> bool:
        return any(row.error for row in self.models)

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "database": self.database, "models": [m.to_json() for m in self.models]}


def list_models(bind: Any, models: Sequence[CachedModel]) -> ModelsReport:
    """Count the rows of each model's table (a missing table is that model's
    error; the others are still counted)."""
    with connection_for(bind) as (connection, display_url, redact):
        report = ModelsReport(display_url)
        lost: Optional[str] = None
        for model in models:
            row = ModelRow(model)
            report.models.append(row)
            if lost is not None:
                row.error = f"not counted: {lost}"
                continue
            session = session_on(connection)
            try:
                row.rows = session.execute(select(func.count()).select_from(model.cls)).scalar_one()
            except Exception as error:
                if connection.invalidated or connection.closed:
                    lost = f"connection lost while counting {model.name}: {redact(describe(error))}"
                    row.error = lost
                else:
                    row.error = f"table {model.table!r} cannot be read: {redact(describe(error))}"
            finally:
                try:
                    session.close()
                except Exception as error:
                    if lost is None and (connection.invalidated or connection.closed):
                        lost = f"connection lost after counting {model.name}: {redact(describe(error))}"
    return report
