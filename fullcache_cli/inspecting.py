"""inspect: everything warm observes about one model, in full, plus the
shapes of its keys, the mixin's statistics and a sample of entries."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from .database import connection_for
from .keys import format_key, key_types
from .loading import CachedModel
from .report import ModelReport, json_key
from .warming import model_caches, resolve_model, row_id, warm_on

SCHEMA = "fullcache.inspect/1"
DEFAULT_LIMIT = 20
REPR_WIDTH = 80


def short_repr(obj: Any, width: int = REPR_WIDTH) -> str:
    try:
        text = repr(obj)
    except Exception as error:  # a __repr__ that needs a session, say
        text = f"<{type(obj).__name__}: repr failed: {type(error).__name__}>"
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class Entry:
    key: Any
    id: Any
    repr: str

    def to_json(self) -> dict:
        return {"key": json_key(self.key), "id": self.id, "repr": self.repr}


@dataclass
class InspectReport:
    database: str
    model: ModelReport
    key_types: Dict[str, int] = field(default_factory=dict)
    stats: Optional[dict] = None
    entries: List[Entry] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT

    def to_json(self) -> dict:
        return {
            "schema": SCHEMA,
            "database": self.database,
            **self.model.to_json(),
            "key_types": self.key_types,
            "stats": self.stats,
            "entries": [e.to_json() for e in self.entries],
        }

    def render(self, output: Any) -> None:
        from .render import render_inspect

        render_inspect(output, self)


def inspect_model(
    bind: Any,
    model: "str | type | CachedModel",
    models: Any = None,
    *,
    limit: int = DEFAULT_LIMIT,
    statement_timeout: Optional[float] = None,
) -> InspectReport:
    """Warm one model and report it in full (``limit`` caps the sample of
    entries; every problem list is whole)."""
    target = resolve_model(model, models)
    with connection_for(bind, statement_timeout) as (connection, display_url, redact):
        (report,) = warm_on(connection, [target], redact)
    inspected = InspectReport(display_url, report, limit=limit)
    if report.status != "ok":
        return inspected
    id_cache, key_cache = model_caches(target.cls)
    inspected.key_types = key_types(key_cache)
    if report.none_keys:
        inspected.key_types["None"] = len(report.none_keys)
    stats = getattr(target.cls, "cache_stats", None)
    if callable(stats):
        try:
            inspected.stats = stats().as_dict()
        except Exception:
            inspected.stats = None  # an application's own cache_stats() of another shape
    inspected.entries = [
        Entry(key, row_id(obj), short_repr(obj))
        for key, obj in itertools.islice(key_cache.items(), limit)
    ]
    return inspected


__all__ = ["inspect_model", "InspectReport", "format_key"]
