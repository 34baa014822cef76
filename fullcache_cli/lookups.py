"""lookup: warm one model, then look a key (or an id) up the way the
application does, from a second session, and time it against the database."""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .analysis import lost_reason, model_caches, row_id
from .database import Database, connection_for, fresh_sessions, primary_key_column, session_on
from .defaults import DEFAULT_REPEAT
from .errors import ModelError, reraise_interrupt
from .keys import closest_keys, require_key
from .loading import CachedModel, resolve_model
from .masking import mask_row
from .reports import LookupReport, Merge, ModelReport, RowError, Status, format_key, json_value
from .runtime.rows import one_object, stream_objects
from .runtime.stats import uncounted
from .timing import after, median_of, median_us, time_calls
from .warming import warm_on

SCAN_BATCH = 1000

_PYTHON_SHAPES = {int: "int", str: "str", float: "float"}


def lookup(
    bind: Any,
    model: "str | type | CachedModel",
    key: str,
    models: Any = None,
    *,
    by_id: bool = False,
    repeat: int = DEFAULT_REPEAT,
    statement_timeout: Optional[float] = None,
    show_secrets: bool = False,
    model_timeout: Optional[float] = None,
) -> LookupReport:
    """Look ``key`` (text, read to fit the cache's key types) up through the
    model's own ``by_cache_key`` (or ``by_id``) from a second session. The
    row's values come with secrets masked (see masking.mask_row) unless
    ``show_secrets``."""
    target = resolve_model(model, models)
    with connection_for(bind, statement_timeout) as (connection, database):
        warmed = _warm(connection, database, target, model_timeout)
        id_cache, key_cache = model_caches(target.cls)
        cache = id_cache if by_id else key_cache
        readings = _readings(target, key, cache, by_id)
        chosen = next((r for r in readings if _holds(cache, r)), readings[0])
        report = LookupReport(database.display_url, target.name, chosen, "id" if by_id else "key", repeat=repeat)
        session = session_on(connection)
        try:
            with session.no_autoflush, uncounted(target.cls):
                look = _Lookup(
                    session, connection, database, target.cls, warmed, report, key, readings, cache, show_secrets
                )
                _look(look)
                _time(look)
        finally:
            session.close()
    if not report.found:
        report.suggestions = closest_keys(format_key(chosen), cache.keys())
    return report


def _warm(connection: Any, database: Database, target: CachedModel, model_timeout: Optional[float]) -> ModelReport:
    """Warm the model (no lookups timed); an error when it cannot be read."""
    (warmed,) = warm_on(connection, database, [target], lookup_samples=0, model_timeout=model_timeout)
    if warmed.status is not Status.OK:
        raise ModelError(f"{target.name} cannot be looked up: {warmed.error}")
    if warmed.shared_cache:
        raise ModelError(f"{target.name} cannot be looked up: it {warmed.shared_cache}")
    if warmed.timed_out is not None:
        raise ModelError(f"{target.name} cannot be looked up: its warm ran over {warmed.timed_out:g} s")
    return warmed


def _readings(target: CachedModel, text: str, cache: dict, by_id: bool) -> List[Any]:
    """Every reading of the KEY text that fits the cache's keys (for ids: the
    primary key's Python type where it has one)."""
    if not by_id:
        return require_key(text, cache, f"{target.name}'s cache")
    column = primary_key_column(target.cls)
    python_type = None
    if column is not None:
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            python_type = None
    shape = _PYTHON_SHAPES.get(python_type)
    return require_key(text, cache, f"{target.name}'s ids", "id", shapes=[shape] if shape else None)


@dataclass
class _Lookup:
    """One lookup under way: what it works on, and the report it fills."""

    session: Session
    connection: Connection
    database: Database
    cls: Any
    warmed: ModelReport
    report: LookupReport
    text: str
    readings: List[Any]
    cache: dict
    show_secrets: bool = False
    hook_found: List[Any] = field(default_factory=list)

    @property
    def by_id(self) -> bool:
        return self.report.by == "id"

    @property
    def key(self) -> Any:
        return self.report.key


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


def _find_in_table(look: _Lookup):
    """The lookup hook: creates nothing; finds the row whose cache_key()
    (computed as populate does) is the key, or reads as the KEY typed (so a
    row lost to an unhashable key is found too)."""
    typed = _typed(look.text)
    for obj in stream_objects(look.session, select(look.cls), SCAN_BATCH):
        try:
            row_key = obj.cache_key()
            if row_key in look.readings or _loose(row_key) in (typed, look.text):
                look.hook_found.append(obj)
                return obj, False
        except BaseException as error:
            reraise_interrupt(error)
            continue
    look.hook_found.append(None)
    return None, False


def _fetch(look: _Lookup) -> Any:
    """The object the model's own lookup returns, or None (its error noted)."""
    try:
        if look.by_id:
            return look.cls.by_id(look.session, look.key)
        obj, _ = look.cls.by_cache_key(look.session, look.key, lambda: _find_in_table(look))
        return obj
    except BaseException as error:
        # sys.exit() in a lookup hook is the model's error, not the end of the lookup.
        reraise_interrupt(error)
        look.report.error = look.database.describe(error)
        return None


def _merge_failure(look: _Lookup, cached: Any) -> Optional[RowError]:
    return next((f for f in look.warmed.merge_failures if f.id == row_id(cached)), None)


def _look(look: _Lookup) -> None:
    report = look.report
    cached = look.cache.get(look.key) if _holds(look.cache, look.key) else None
    failure = _merge_failure(look, cached) if cached is not None else None
    obj = _fetch(look)
    if cached is not None:
        ok = failure is None and obj is not None and obj in look.session and not look.hook_found
        report.merge = Merge(ok, failure.error if failure else report.error)
    if obj is None:
        return
    report.found = True
    report.id = row_id(obj)
    served_from_cache = cached is not None and failure is None and not look.hook_found and row_id(cached) == report.id
    report.source = "cache" if served_from_cache else "database"
    if not served_from_cache:
        report.reason = lost_reason(report.id, look.warmed)
    values = {attr.key: json_value(getattr(obj, attr.key, None)) for attr in sa_inspect(look.cls).column_attrs}
    report.values = mask_row(values, look.show_secrets)
    if not look.by_id:
        for collision in look.warmed.collisions:
            if collision.key == look.key:
                report.shadows = [i for i in collision.ids if i != collision.kept_id]


def _time(look: _Lookup) -> None:
    """Median cached lookups (repeated from one session, and first lookups
    each from a new session) against the same row by primary key (found
    rows of single-column primary keys only); each series within the
    repeat count and a time budget."""
    report, cls, session = look.report, look.cls, look.session
    column = primary_key_column(cls)
    if not report.found or column is None:
        return
    try:
        if report.source == "cache":
            lookup = _cached_lookup(look)
            with closing(fresh_sessions(look.connection, range(report.repeat))) as fresh:
                first = time_calls(lambda pair: lookup(pair[0]), fresh, after())
            report.first_hit_us, report.first_hit_samples = median_of(first), len(first)
            report.cache_us, report.cache_samples = median_us(lookup, session, report.repeat, after())
        report.db_us, report.db_samples = median_us(
            lambda id: one_object(session, select(cls).where(column == id)), report.id, report.repeat, after()
        )
    except BaseException as error:
        reraise_interrupt(error)
        report.error = look.database.describe(error)


def _cached_lookup(look: _Lookup) -> Callable[[Session], Any]:
    """The lookup being timed, given the session it is made from."""
    cls, key = look.cls, look.key
    if look.by_id:
        return lambda session: cls.by_id(session, key)
    return lambda session: cls.by_cache_key(session, key, lambda: (None, False))

