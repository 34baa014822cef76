"""fullcache's own queries on a model that loads a collection with
``lazy="joined"``: such a result repeats an object once per row of the
collection, must be uniqued and refuses ``yield_per``. On SQLite and
PostgreSQL."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.pool import NullPool

import fullcache_cli
from fullcache_cli.runtime.rows import one_object, stream_objects
from tests.apps import seed_cache

Seed = seed_cache.HasFullTableCache


class Base(DeclarativeBase):
    pass


class Shelf(Seed, Base):
    """The application's own mixin: a cache_key() that raises aborts its
    populate, so the rows after it are read again by fullcache."""

    __tablename__ = "eager_shelves"
    _cache = Seed.RESET
    _id_cache = Seed.RESET
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10))
    books: Mapped[list["Book"]] = relationship(lazy="joined", order_by="Book.id")

    def cache_key(self):
        if self.code.startswith("!"):
            raise ValueError(f"bad shelf code {self.code!r}")
        return self.code


class Book(Base):
    __tablename__ = "eager_books"
    id: Mapped[int] = mapped_column(primary_key=True)
    shelf_id: Mapped[int] = mapped_column(ForeignKey("eager_shelves.id"))


def _fill(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(Shelf.__table__.insert(), [
            dict(id=1, code="A"), dict(id=2, code="!B"), dict(id=3, code="C"),
        ])
        connection.execute(Book.__table__.insert(), [dict(id=n, shelf_id=1 + n % 3) for n in range(1, 10)])
    engine.dispose()


def test_rows_are_streamed_or_uniqued_one_object_per_row(database_url):
    _fill(database_url)
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with Session(engine) as session:
            shelves = list(stream_objects(session, select(Shelf), 2))
            assert sorted(shelf.id for shelf in shelves) == [1, 2, 3]
            assert [len(shelf.books) for shelf in sorted(shelves, key=lambda s: s.id)] == [3, 3, 3]
            books = list(stream_objects(session, select(Book), 2))  # no eager load: streamed
            assert sorted(book.id for book in books) == list(range(1, 10))
            assert one_object(session, select(Shelf).where(Shelf.id == 2)).code == "!B"
            assert one_object(session, select(Shelf).where(Shelf.id == 99)) is None
    finally:
        engine.dispose()


def test_warm_reads_again_the_rows_an_aborted_populate_left_out(database_url):
    _fill(database_url)
    try:
        report = fullcache_cli.warm(database_url, [Shelf])
    finally:
        Shelf.reset_cache()
    (shelf,) = report.models
    assert shelf.error is None, shelf.error
    assert "bad shelf code '!B'" in shelf.populate_error
    assert [(error.id, error.error) for error in shelf.key_errors] == [(2, "ValueError: bad shelf code '!B'")]


def test_a_miss_is_looked_up_in_the_table_and_a_hit_timed_against_it(database_url):
    _fill(database_url)
    # Without the shelf whose key aborts the application's populate.
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(Book.__table__.delete().where(Book.shelf_id == 2))
        connection.execute(Shelf.__table__.delete().where(Shelf.id == 2))
    engine.dispose()
    try:
        missing = fullcache_cli.lookup(database_url, Shelf, "NOPE", repeat=3)
        assert missing.found is False and missing.error is None
        found = fullcache_cli.lookup(database_url, Shelf, "C", repeat=3)
        assert found.found and found.source == "cache" and found.error is None and found.db_us is not None
        by_id = fullcache_cli.lookup(database_url, Shelf, "1", by_id=True, repeat=3)
        assert by_id.found and by_id.error is None and by_id.values["code"] == "A"
        warmed = fullcache_cli.warm(database_url, [Shelf])
        (shelf,) = warmed.models
        assert shelf.lookup_error is None and shelf.lookups.db_p50_us is not None
    finally:
        Shelf.reset_cache()
