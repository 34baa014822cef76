"""The benchmark's models module: one realistic table on fullcache's mixin.

``fullcache warm --models benchmarks/bench_models.py --database-url URL``
warms it. The table name comes from ``FULLCACHE_BENCH_TABLE`` (default
``bench_items``), so that tables of several sizes can live in one database;
set it before this module is imported.

``fill(engine, rows)`` (re)creates the table and fills it with deterministic
rows: COPY on PostgreSQL (psycopg2), executemany elsewhere.
"""

from __future__ import annotations

import csv
import io
import os
import random
from typing import Iterator, Optional, Tuple

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fullcache_cli import HasFullTableCache

TABLE = os.environ.get("FULLCACHE_BENCH_TABLE", "bench_items")

NAMESPACES = [f"ns-{n:02d}" for n in range(20)]
WORDS = ("circulation", "hold", "loan", "patron", "catalog", "branch", "return", "renewal",
         "fine", "audio", "ebook", "periodical", "reserve", "transfer", "shelf", "digital")


class Base(DeclarativeBase):
    pass


class BenchItem(HasFullTableCache, Base):
    """An id, two strings that make the unique cache key, an int and a
    nullable string: the shape of a typical small, hot lookup table."""

    __tablename__ = TABLE
    __table_args__ = (UniqueConstraint("namespace", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    description: Mapped[Optional[str]] = mapped_column(String(255))

    def cache_key(self):
        return (self.namespace, self.code)

    def __repr__(self) -> str:
        return f"<BenchItem {self.id} {self.namespace}/{self.code}>"


def generate(rows: int, seed: int = 20240601) -> Iterator[Tuple[int, str, str, int, Optional[str]]]:
    """``rows`` deterministic rows (id, namespace, code, priority, description)."""
    rng = random.Random(seed)
    for row_id in range(1, rows + 1):
        if rng.random() < 0.3:
            description = None
        else:
            description = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7)))
        yield (
            row_id,
            NAMESPACES[row_id % len(NAMESPACES)],
            f"code-{row_id:08d}-{rng.randrange(16 ** 6):06x}",
            rng.randrange(1000),
            description,
        )


def fill(engine: Engine, rows: int) -> None:
    """Drop, create and fill this module's table with ``rows`` rows."""
    table = BenchItem.__table__
    table.drop(engine, checkfirst=True)
    table.create(engine)
    if engine.dialect.name == "postgresql":
        _copy(engine, rows)
    else:
        columns = [c.name for c in table.columns]
        with engine.begin() as connection:
            batch = []
            for row in generate(rows):
                batch.append(dict(zip(columns, row)))
                if len(batch) == 50_000:
                    connection.execute(table.insert(), batch)
                    batch = []
            if batch:
                connection.execute(table.insert(), batch)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # PostgreSQL: VACUUM too, as a table in service has been, so that the
        # first reads do not set hint bits and autovacuum does not run its
        # pass over the new rows during the timed warms (on two cores that
        # made the million-row warms 10.3-12.2 us/row where they are 9.5-10.2
        # after VACUUM).
        verb = "VACUUM (ANALYZE)" if engine.dialect.name == "postgresql" else "ANALYZE"
        connection.exec_driver_sql(f"{verb} {TABLE}")


def _copy(engine: Engine, rows: int) -> None:
    raw = engine.raw_connection()
    try:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in generate(rows):
            writer.writerow(["\\N" if value is None else value for value in row])
        buffer.seek(0)
        columns = ", ".join(c.name for c in BenchItem.__table__.columns)
        with raw.cursor() as cursor:
            cursor.copy_expert(f"COPY {TABLE} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)
        raw.commit()
    finally:
        raw.close()
