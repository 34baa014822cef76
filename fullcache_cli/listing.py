"""The models listing: each cached model, its table, its mixin and its rows."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .database import connection_for, connection_lost, count_rows, session_on
from .loading import CachedModel
from .reports import ModelRow, ModelsReport


def list_models(bind: Any, models: Sequence[CachedModel]) -> ModelsReport:
    """Count the rows of each model's table (a missing table is that model's
    error; the others are still counted)."""
    with connection_for(bind) as (connection, database):
        report = ModelsReport(database.display_url)
        lost: Optional[str] = None
        for model in models:
            row = ModelRow(model)
            report.models.append(row)
            if lost is not None:
                row.error = f"not counted: {lost}"
                continue
            session = session_on(connection)
            try:
                row.rows = count_rows(session, model.cls)
            except Exception as error:
                if connection_lost(connection, error):
                    lost = f"connection lost while counting {model.name}: {database.describe(error)}"
                    row.error = lost
                else:
                    row.error = f"table {model.table!r} cannot be read: {database.describe(error)}"
            finally:
                try:
                    session.close()
                except Exception as error:
                    if lost is None and connection_lost(connection, error):
                        lost = f"connection lost after counting {model.name}: {database.describe(error)}"
    return report
