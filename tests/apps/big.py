"""One wide-open model for the large-table tests: ``fill(engine, rows,
keys)`` writes ``rows`` rows whose cache_key() takes only ``keys`` distinct
values, so nearly every row is in a collision and every problem list is long."""

from sqlalchemy import insert
from sqlalchemy.orm import DeclarativeBase

from tests.apps import Named


class Base(DeclarativeBase):
    pass


class Big(Named, Base):
    __tablename__ = "big"


def fill(engine, rows: int, keys: int, batch: int = 50_000) -> None:
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        for start in range(1, rows + 1, batch):
            connection.execute(
                insert(Big),
                [{"id": n, "name": f"key-{n % keys}"} for n in range(start, min(start + batch, rows + 1))],
            )
