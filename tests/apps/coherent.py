"""Models kept coherent across processes in the coherence tests: one on
fullcache's mixin, one on an application's own copy of the original."""

from sqlalchemy import create_engine, text
from sqlalchemy.orm import DeclarativeBase

from tests.apps import Named, SeedNamed


class Base(DeclarativeBase):
    pass


class Genre(Named, Base):
    __tablename__ = "coh_genres"


class SeedGenre(SeedNamed, Base):
    __tablename__ = "coh_seed_genres"


def fill(url: str, rows: int = 3) -> None:
    """Create both tables with ``rows`` rows named g1, g2, ..."""
    engine = create_engine(url)
    try:
        Base.metadata.create_all(engine)
        with engine.begin() as connection:
            for table in ("coh_genres", "coh_seed_genres"):
                connection.execute(text(f"DELETE FROM {table}"))
                for i in range(1, rows + 1):
                    connection.execute(text(f"INSERT INTO {table} (id, name) VALUES ({i}, 'g{i}')"))
    finally:
        engine.dispose()
