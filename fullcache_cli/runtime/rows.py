"""Reading a mapped class's rows as objects, whatever its mapping loads
eagerly.

A query streamed with ``yield_per`` is refused when the class (or a class
its joined eager loads reach) loads a collection with ``lazy="joined"``:
such a result repeats an object once per row of the collection and must be
uniqued, which needs the whole result. Every query that reads whole
objects goes through here, the mixin's populate and the tool's alike.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select


def stream_objects(session: Session, statement: Select, batch: int) -> Iterable[Any]:
    """The objects ``statement`` selects, one per row of the table: streamed
    ``batch`` rows at a time where the mapping allows, else uniqued."""
    try:
        result = session.execute(statement.execution_options(yield_per=batch))
    except sa_exc.InvalidRequestError:
        # Raised before any SQL is sent: yield_per refuses joined eager
        # loading of collections.
        result = session.execute(statement).unique()
    return result.scalars()


def one_object(session: Session, statement: Select) -> Any:
    """The one object ``statement`` selects, or None; uniqued, so that joined
    eager loads of collections do not make it many."""
    return session.execute(statement).unique().scalar_one_or_none()
