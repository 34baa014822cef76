"""Model classes and fixtures shared by the mixin's tests (test_mixin.py and
test_mixin_sessions.py). Each test gets freshly defined model classes
(``define_models()``), so caches and statistics never leak from one test, or
one backend, into another."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import BigInteger, ForeignKey, Integer, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, relationship

from fullcache_cli import HasFullTableCache
from tests.apps import SeedNamed, seed_cache

RESET = HasFullTableCache.RESET


# ---------------------------------------------------------------------------
# Models: defined afresh for every test
# ---------------------------------------------------------------------------


class KeyedByName:
    """cache_key() is the ``name`` column. A test can watch (or disturb) a
    populate by setting ``Model.on_cache_key = lambda obj: ...``."""

    on_cache_key = None

    def cache_key(self):
        hook = type(self).on_cache_key
        if hook is not None:
            hook(self)
        return self.name


class BadHash:
    """A key whose hash() raises something other than TypeError."""

    def __hash__(self):
        raise RuntimeError("hash of a broken key")


class KeyedByCode(KeyedByName):
    """cache_key() from the ``code`` column: ``None`` -> no key,
    ``"raise:..."`` -> raises, ``"list:..."`` -> an unhashable list,
    ``"badhash:..."`` -> a key whose hash() raises."""

    def cache_key(self):
        hook = type(self).on_cache_key
        if hook is not None:
            hook(self)
        code = self.code
        if code is None:
            return None
        if code.startswith("raise:"):
            raise ValueError(f"bad code {code!r}")
        if code.startswith("list:"):
            return [code]
        if code.startswith("badhash:"):
            return BadHash()
        return code


def define_models() -> SimpleNamespace:
    class Base(DeclarativeBase):
        pass

    class Genre(KeyedByName, HasFullTableCache, Base):
        __tablename__ = "genres"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String(50), nullable=True)

    class Tagged(KeyedByCode, HasFullTableCache, Base):
        __tablename__ = "tagged"
        # BIGINT, not INTEGER: on SQLite an INTEGER PRIMARY KEY is the rowid and
        # a table scan returns rows by id; with BIGINT SQLite (like PostgreSQL)
        # returns them in insertion order, so a test can have a higher id read
        # first on both backends.
        id = mapped_column(BigInteger, primary_key=True, autoincrement=False)
        code = mapped_column(String(50), nullable=True)
        note = mapped_column(String(50), nullable=True)  # not in the key

    class FalsyByBool(KeyedByName, HasFullTableCache, Base):
        __tablename__ = "falsy_bool"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String(50))

        def __bool__(self):
            return False

    class FalsyByLen(KeyedByName, HasFullTableCache, Base):
        __tablename__ = "falsy_len"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String(50))

        def __len__(self):
            return 0

    class Declared(KeyedByName, HasFullTableCache, Base):
        """Declares its caches the way the seed asks every subclass to."""

        __tablename__ = "declared"
        _cache = HasFullTableCache.RESET
        _id_cache = HasFullTableCache.RESET
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String(50))

    class Item(KeyedByName, HasFullTableCache, Base):
        __tablename__ = "items"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String(50))
        kind = mapped_column(String(20))
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "item"}

    class SpecialItem(Item):
        """A subclass of a cached model that declares nothing."""

        __mapper_args__ = {"polymorphic_identity": "special"}

    class Author(KeyedByName, HasFullTableCache, Base):
        __tablename__ = "authors"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String(50))
        # A joined-eager collection: yield_per refuses it.
        books = relationship("Book", lazy="joined", order_by="Book.id")

    class Book(Base):
        __tablename__ = "books"
        id = mapped_column(Integer, primary_key=True)
        author_id = mapped_column(ForeignKey("authors.id"))
        title = mapped_column(String(50))

    class SeedGenre(seed_cache.HasFullTableCache, Base):
        """The same model on the application's own copy of the seed."""

        __tablename__ = "seed_genres"
        _cache = seed_cache.HasFullTableCache.RESET
        _id_cache = seed_cache.HasFullTableCache.RESET
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String(50), nullable=True)

        def cache_key(self):
            return self.name

    class SeedTagged(seed_cache.HasFullTableCache, Base):
        __tablename__ = "seed_tagged"
        _cache = seed_cache.HasFullTableCache.RESET
        _id_cache = seed_cache.HasFullTableCache.RESET
        id = mapped_column(BigInteger, primary_key=True, autoincrement=False)
        code = mapped_column(String(50), nullable=True)
        cache_key = KeyedByCode.cache_key
        on_cache_key = None

    class SeedFalsy(SeedNamed, Base):
        __tablename__ = "seed_falsy"

        def __bool__(self):
            return False

    return SimpleNamespace(**{name: value for name, value in locals().items() if isinstance(value, type)})


GENRES = [
    dict(id=1, name="Fiction"),
    dict(id=2, name="Poetry"),
    dict(id=3, name="Drama"),
]


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def m():
    """Fresh model classes (``insert`` creates their tables as needed)."""
    return define_models()


@pytest.fixture
def session(engine):
    """Sessions on the test's database, all closed at the end: ``session()``."""
    opened = []

    def make() -> Session:
        opened.append(Session(engine))
        return opened[-1]

    yield make
    for s in opened:
        s.close()


def insert(engine, model, rows):
    """Insert rows into the model's table, creating it first if need be."""
    with engine.begin() as conn:
        model.__table__.create(conn, checkfirst=True)
        conn.execute(model.__table__.insert(), rows)


def read_order(model):
    """Record the ids whose cache_key() a populate asks for, in order."""
    order = []
    model.on_cache_key = lambda obj: order.append(obj.id)
    return order


def hook_must_not_run():
    raise AssertionError("the lookup hook ran on a cache hit")


