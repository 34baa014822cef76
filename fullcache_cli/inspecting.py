"""inspect: everything warm observes about one model, in full, plus the
shapes of its keys, the mixin's statistics and a sample of entries."""

from __future__ import annotations

import itertools
from typing import Any, Optional

from .analysis import model_caches, row_id
from .database import connection_for
from .defaults import DEFAULT_LIMIT
from .keys import key_types
from .loading import CachedModel, resolve_model
from .errors import reraise_interrupt
from .reports import Entry, InspectReport, Status, safe_repr
from .warming import warm_on

REPR_WIDTH = 80


def short_repr(obj: Any, width: int = REPR_WIDTH) -> str:
    """``repr(obj)``, cut to ``width``; never raises."""
    text = safe_repr(obj)  # a __repr__ may need a session, say
    return text if len(text) <= width else text[: width - 1] + "…"


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
    with connection_for(bind, statement_timeout) as (connection, database):
        (report,) = warm_on(connection, database, [target])
    inspected = InspectReport(database.display_url, report, limit=limit)
    if report.status is not Status.OK:
        return inspected
    id_cache, key_cache = model_caches(target.cls)
    inspected.key_types = key_types(key_cache)
    if report.none_keys:
        inspected.key_types["None"] = len(report.none_keys)
    stats = getattr(target.cls, "cache_stats", None)
    if callable(stats):
        try:
            inspected.stats = stats().as_dict()
        except BaseException as error:
            reraise_interrupt(error)
            inspected.stats = None  # an application's own cache_stats() of another shape
    inspected.entries = [
        Entry(key, row_id(obj), short_repr(obj))
        for key, obj in itertools.islice(key_cache.items(), limit)
    ]
    return inspected
