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
from .masking import MASK, secret_columns
from .reports import Entry, InspectReport, Status, safe_repr
from .row_values import loaded_values
from .warming import warm_on

REPR_WIDTH = 120


def state_repr(obj: Any, show_secrets: bool = False, width: int = REPR_WIDTH) -> str:
    """An object as ``<Class column=value ...>``, cut to ``width``: its
    column values as loaded (row_values.loaded_values: a column not loaded
    is left out), secrets masked unless ``show_secrets``.

    Built from the instance state, never from the model's ``__repr__``: that
    is the application's code, which may load attributes (a detached object
    raises, an attached one queries) or print what should stay masked.
    """
    values = loaded_values(obj)  # {} when not mapped: nothing to read without running its code
    secret = set() if show_secrets else secret_columns(values)
    text = " ".join([f"<{type(obj).__name__}"] + [
        f"{name}={_value_repr(value, name in secret)}" for name, value in values.items()
    ]) + ">"
    return text if len(text) <= width else text[: width - 2] + "…>"


def _value_repr(value: Any, secret: bool) -> str:
    return MASK if secret and value is not None else safe_repr(value)


def inspect_model(
    bind: Any,
    model: "str | type | CachedModel",
    models: Any = None,
    *,
    limit: int = DEFAULT_LIMIT,
    statement_timeout: Optional[float] = None,
    show_secrets: bool = False,
    model_timeout: Optional[float] = None,
) -> InspectReport:
    """Warm one model and report it in full (``limit`` caps the sample of
    entries; every problem list is whole). Entries show column values with
    secrets masked (see masking.mask_row) unless ``show_secrets``."""
    target = resolve_model(model, models)
    with connection_for(bind, statement_timeout) as (connection, database):
        (report,) = warm_on(connection, database, [target], model_timeout=model_timeout)
    inspected = InspectReport(database.display_url, report, limit=limit)
    if report.status is not Status.OK or report.shared_cache:
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
        Entry(key, row_id(obj), state_repr(obj, show_secrets))
        for key, obj in itertools.islice(key_cache.items(), limit)
    ]
    return inspected
