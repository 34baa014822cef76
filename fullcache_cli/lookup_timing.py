"""Timing a model's own lookups against the database, for warm's report:
the first lookup of a row in a new session (what every web request pays: a
merge for most mixins), repeated hits from one session, and a primary-key
query. Each series is bounded by a number of ids and by a time budget, so a
model whose hits merge a large graph gets fewer samples, not minutes.

Series timed one after another can be skewed by load that comes and goes on a
shared machine (a CI runner): when the hits look slower than the query (a
``slow_hit`` problem), the three are timed once more taking turns on the same
ids, and that round's figures are the ones reported.
"""

from __future__ import annotations

from contextlib import closing
from typing import Any, Callable, List, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .database import fresh_sessions
from .reports import Lookups
from .runtime.rows import one_object
from .timing import after, p50_p99, time_alternating, time_calls

DB_SAMPLES = 50  # ids also fetched by primary key from the database
LOOKUP_SECONDS = 0.4  # the budget per model: fewer samples past it
# Each series times this many ids however slow they are: a median of two
# would be whichever row is cheapest (a setting with no library, say).
MIN_LOOKUP_SAMPLES = 5


def time_lookups(connection: Connection, session: Session, cls: type, ids: Sequence[Any], column: Any) -> Lookups:
    """The timings of ``cls.by_id`` on ``ids`` (hits repeated in
    ``session``, first lookups each in a new session on ``connection``)
    against a query by ``column`` (the primary key; None: no query)."""
    # A quarter of the budget each for the first lookups, the lookups that
    # make the timed hits hits, the timed hits and the database, each from
    # when it starts (a slow series leaves the next its share).
    quarter = LOOKUP_SECONDS / 4
    least = MIN_LOOKUP_SAMPLES

    def first(pair: tuple) -> Any:
        return cls.by_id(*pair)

    def hit(row_id: Any) -> Any:
        return cls.by_id(session, row_id)

    def query(row_id: Any) -> Any:
        return one_object(session, select(cls).where(column == row_id))

    with closing(fresh_sessions(connection, ids)) as fresh:
        first_us = time_calls(first, fresh, after(quarter), least)
    # The ids to time repeated hits on, each looked up once first (that
    # first lookup may merge): as many as the budget allows.
    warmed = ids[: len(time_calls(hit, ids, after(quarter), least))]
    cache_us = time_calls(hit, warmed, after(quarter), least)
    db_us = time_calls(query, ids[:DB_SAMPLES], after(quarter), least) if column is not None else []
    lookups = _lookups(first_us, cache_us, db_us)
    if lookups.slow_hit:
        turns: List[Callable[[tuple], Any]] = [first, lambda pair: hit(pair[1]), lambda pair: query(pair[1])]
        with closing(fresh_sessions(connection, warmed[:DB_SAMPLES])) as fresh:
            first_us, cache_us, db_us = time_alternating(turns, fresh, after(quarter), least)
        lookups = _lookups(first_us, cache_us, db_us)
    return lookups


def _lookups(first_us: List[float], cache_us: List[float], db_us: List[float]) -> Lookups:
    cache_p50, cache_p99 = p50_p99(cache_us)
    first_p50, first_p99 = p50_p99(first_us)
    db_p50, db_p99 = p50_p99(db_us) if db_us else (None, None)
    return Lookups(
        len(cache_us), cache_p50, cache_p99, db_p50, db_p99,
        first_hit_samples=len(first_us), first_hit_p50_us=first_p50, first_hit_p99_us=first_p99,
        db_samples=len(db_us),
    )
