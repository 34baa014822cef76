"""Models that take too long, for Ctrl-C and the time limits:

- ``Sleeper``: populate_cache runs one statement that does not end by itself
  (PostgreSQL ``pg_sleep(600)``; SQLite a recursive query counting to 10**10),
  after writing the file named by ``FULLCACHE_TEST_MARKER`` (if set), so that
  a test knows the statement runs;
- ``Streamer``: populate_cache streams its 2,000 rows ten at a time and
  spends 10 ms in Python on each (about 20 s), so no single statement is slow;
- ``Plain``: an ordinary model after them.
"""

import os
import time

from sqlalchemy import select, text

from tests.apps import fill_named, named_models, reset_caches

MARKER = "FULLCACHE_TEST_MARKER"
RUNAWAY = {
    "postgresql": "SELECT pg_sleep(600)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000000) "
    "SELECT count(*) FROM c",
}
Base = named_models("slow")


class Sleeper(Base):
    @classmethod
    def populate_cache(cls, _db):
        marker = os.environ.get(MARKER)
        if marker:
            with open(marker, "w") as stream:
                stream.write("running")
        _db.execute(text(RUNAWAY[_db.get_bind().dialect.name])).all()
        super().populate_cache(_db)


class Streamer(Base):
    @classmethod
    def populate_cache(cls, _db):
        for obj in _db.execute(select(cls).execution_options(yield_per=10)).scalars():
            time.sleep(0.01)
            cls._cache_insert(obj, {}, {})
        super().populate_cache(_db)


class Plain(Base):
    """An ordinary model after them."""


MODELS = [Sleeper, Streamer, Plain]


def fill(engine):
    """Create every table: three rows each, 2,000 for Streamer."""
    fill_named(engine, Base, [Sleeper, Plain])
    fill_named(engine, Base, [Streamer], ids=range(1, 2001))


def reset_all():
    """Every model's caches cleared."""
    reset_caches(MODELS)
