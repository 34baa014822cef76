"""Models kept coherent across processes in the coherence tests: one on
fullcache's mixin, one on an application's own copy of the original."""

from sqlalchemy import Integer, String, create_engine, text
from sqlalchemy.orm import DeclarativeBase, mapped_column

from fullcache_cli import HasFullTableCache
from tests.apps import seed_cache


class Base(DeclarativeBase):
    pass


class Genre(HasFullTableCache, Base):
    __tablename__ = "coh_genres"
    id = mapped_column(Integer, primary_key=True)
    name = mapped_column(String(100))

    def cache_key(self):
        return self.name


class SeedGenre(seed_cache.HasFullTableCache, Base):
    __tablename__ = "coh_seed_genres"
    _cache = seed_cache.HasFullTableCache.RESET
    _id_cache = seed_cache.HasFullTableCache.RESET
    id = mapped_column(Integer, primary_key=True)
    name = mapped_column(String(100))

    def cache_key(self):
        return self.name


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
