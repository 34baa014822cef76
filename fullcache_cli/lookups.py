"""lookup: warm one model, then look a key (or an id) up the way the
application does, from a second session, and time it against the database."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from .database import connection_for, session_on
from .errors import ModelError, describe
from .keys import closest_keys, format_key, require_key
from .loading import CachedModel
from .report import ModelReport, json_key
from .warming import model_caches, resolve_model, row_id, warm_on

SCHEMA = "fullcache.lookup/1"
DEFAULT_REPEAT = 1000
SCAN_BATCH = 1000

_PYTHON_SHAPES = {int: "int", str: "str", float: "float"}


def json_value(value: Any) -> Any:
    """A column value as JSON: scalars as themselves, anything else as text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


@dataclass
class LookupReport:
    database: str
    model: str
    key: Any
    by: str  # "key" or "id"
    found: bool = False
    source: Optional[str] = None  # "cache", "database" or None
    id: Any = None
    values: Optional[Dict[str, Any]] = None
    merge: Optional[Dict[str, Any]] = None  # {"ok": bool, "error": str | None}
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
            "schema": SCHEMA,
            "database": self.database,
            "model": self.model,
            "key": json_key(self.key),
            "by": self.by,
            "found": self.found,
            "source": self.source,
            "id": self.id,
            "values": self.values,
            "merge": self.merge,
            "cache_us": self.cache_us,
            "db_us": self.db_us,
            "speedup": self.speedup,
            "repeat": self.repeat,
            "reason": self.reason,
            "shadows": self.shadows,
            "suggestions": self.suggestions,
            "error": self.error,
        }

    def render(self, output: Any) -> None:
        from .render import render_lookup

        render_lookup(output, self)


def _median_us(call, repeat: int) -> float:
    clock = time.perf_counter_ns
    timings = []
    for _ in range(repeat):
        started = clock()
        call()
        timings.append(clock() - started)
    return round(statistics.median(timings) / 1000.0, 3)


def _reason(row: Any, warmed: ModelReport) -> str:
    """Why a row the table has was not served from the cache."""
    for problem in warmed.key_errors:
        if problem.id == row:
            return f"its cache_key() failed at populate: {problem.error}"
    for collision in warmed.collisions:
        if row in collision.ids and row != collision.kept_id:
            return f"its key is held by row {collision.kept_id} (a collision)"
    if row in warmed.none_keys:
        return "its key is None"
    for failure in warmed.merge_failures:
        if failure.id == row:
            return f"the cached copy cannot be merged: {failure.error}"
    return "the row is not in the cache"


def lookup(
    bind: Any,
    model: "str | type | CachedModel",
    key: str,
    models: Any = None,
    *,
    by_id: bool = False,
    repeat: int = DEFAULT_REPEAT,
    statement_timeout: Optional[float] = None,
) -> LookupReport:
    """Look ``key`` (text, read to fit the cache's key types) up through the
    model's own ``by_cache_key`` (or ``by_id``) from a second session."""
    target = resolve_model(model, models)
    cls = target.cls
    with connection_for(bind, statement_timeout) as (connection, display_url, redact):
        (warmed,) = warm_on(connection, [target], redact, lookup_samples=0)
        if warmed.status != "ok":
            raise ModelError(f"{target.name} cannot be looked up: {warmed.error}")
        id_cache, key_cache = model_caches(cls)
        mapper = sa_inspect(cls)
        primary_key = mapper.primary_key
        if by_id:
            python_type = None
            if len(primary_key) == 1:
                try:
                    python_type = primary_key[0].type.python_type
                except NotImplementedError:
                    python_type = None
            shape = _PYTHON_SHAPES.get(python_type)
            readings = require_key(
                key, id_cache, f"{target.name}'s ids", "--id", shapes=[shape] if shape else None
            )
        else:
            readings = require_key(key, key_cache, f"{target.name}'s cache")
        cache = id_cache if by_id else key_cache
        chosen = next((r for r in readings if _holds(cache, r)), readings[0])
        report = LookupReport(display_url, target.name, chosen, "id" if by_id else "key", repeat=repeat)
        session = session_on(connection)
        try:
            with session.no_autoflush:
                _look(session, cls, key, chosen, readings, by_id, cache, warmed, report, redact)
                if report.found and len(primary_key) == 1:
                    _time(session, cls, primary_key[0], chosen, by_id, report, redact)
        finally:
            session.close()
    if not report.found:
        report.suggestions = closest_keys(format_key(chosen), cache.keys())
    return report


def _time(session, cls, column, chosen, by_id, report: LookupReport, redact) -> None:
    """Median cached lookup against the same row by primary key."""
    repeat = report.repeat
    try:
        if report.source == "cache":
            if by_id:
                report.cache_us = _median_us(lambda: cls.by_id(session, chosen), repeat)
            else:
                report.cache_us = _median_us(lambda: cls.by_cache_key(session, chosen, lambda: (None, False)), repeat)
        report.db_us = _median_us(lambda: session.execute(select(cls).where(column == report.id)).scalar_one(), repeat)
    except Exception as error:
        report.error = redact(describe(error))


def _loose(key: Any) -> Any:
    """A key as its JSON form would read back: sequences as lists."""
    if isinstance(key, (tuple, list)):
        return [_loose(part) for part in key]
    return key


def _typed(text: str) -> Any:
    try:
        return _loose(json.loads(text))
    except ValueError:
        return text


def _holds(cache: dict, key: Any) -> bool:
    try:
        return key in cache
    except TypeError:
        return False


def _look(session, cls, text, chosen, readings, by_id, cache, warmed, report, redact) -> None:
    hook_found: List[Any] = []
    typed = _typed(text)

    def find_in_table():
        """The lookup hook: creates nothing; finds the row whose cache_key()
        (computed as populate does) is the key, or reads as the KEY typed
        (so a row lost to an unhashable key is found too)."""
        result = session.execute(select(cls).execution_options(yield_per=SCAN_BATCH))
        for obj in result.scalars():
            try:
                row_key = obj.cache_key()
                if row_key in readings or _loose(row_key) in (typed, text):
                    hook_found.append(obj)
                    return obj, False
            except Exception:
                continue
        hook_found.append(None)
        return None, False

    cached = cache.get(chosen) if _holds(cache, chosen) else None
    failure = None
    if cached is not None:
        failure = next((f for f in warmed.merge_failures if f.id == row_id(cached)), None)
    try:
        if by_id:
            obj = cls.by_id(session, chosen)
        else:
            obj, _ = cls.by_cache_key(session, chosen, find_in_table)
    except Exception as error:
        report.error = redact(describe(error))
        obj = None
    if cached is not None:
        ok = failure is None and obj is not None and obj in session and not hook_found
        report.merge = {"ok": ok, "error": failure.error if failure else report.error}
    if obj is None:
        return
    report.found = True
    report.id = row_id(obj)
    served_from_cache = (
        cached is not None and failure is None and not hook_found and row_id(cached) == report.id
    )
    report.source = "cache" if served_from_cache else "database"
    if not served_from_cache:
        report.reason = _reason(report.id, warmed)
    report.values = {attr.key: json_value(getattr(obj, attr.key, None)) for attr in sa_inspect(cls).column_attrs}
    if not by_id:
        for collision in warmed.collisions:
            if collision.key == chosen:
                report.shadows = [i for i in collision.ids if i != collision.kept_id]
