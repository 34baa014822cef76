"""A row's column values as its object holds them, read without a load.

Reading an attribute of a cached object can trigger a load (an expired or
deferred column), and on a detached object that load fails; the instance
state's dict holds what was loaded, which is what a report can show.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

from sqlalchemy import inspect

from .loaded_graph import state_of
from .masking import MASK, secret_columns


def loaded_values(obj: Any) -> Dict[str, Any]:
    """The loaded column attributes of a mapped object, by attribute name,
    primary key included, in the mapper's order; {} for anything unmapped."""
    state = state_of(obj)
    if state is None:
        return {}
    values = state.dict
    return {attr.key: values[attr.key] for attr in state.mapper.column_attrs if attr.key in values}


def differing_columns(objects: Sequence[Any]) -> Dict[str, List[Any]]:
    """The columns whose values differ between ``objects`` (rows sharing a
    key), with each object's value in the order given; the primary key,
    which always differs, is left out, and so is a column not loaded in
    all of them. Secrets (masking.secret_columns) are masked."""
    if len(objects) < 2:
        return {}
    rows = [loaded_values(obj) for obj in objects]
    state = state_of(objects[0])
    primary = set()
    if state is not None:
        mapper = inspect(type(objects[0]))
        primary = {mapper.get_property_by_column(column).key for column in mapper.primary_key}
    secret = set().union(*(secret_columns(row) for row in rows))
    differs: Dict[str, List[Any]] = {}
    for column in rows[0]:
        if column in primary or any(column not in row for row in rows):
            continue
        values = [row[column] for row in rows]
        if any(value != values[0] for value in values[1:]):
            # A secret that differs says so, never what it is.
            differs[column] = [MASK if column in secret and v is not None else v for v in values]
    return differs
