"""Models whose tables the tests change after warming, to measure drift with
known answers, on fullcache's mixin (``Fc*``) and on an application's own
copy of the seed's (``Seed*``).

- ``Item``: id, ``code`` (the cache key) and ``label`` (not in the key);
  rows 1 "a", 2 "b", 3 "c", 4 "d".
- ``Holding``: a composite primary key (``library_id``, ``code``); ``id`` is
  that pair, and the cache key is ``shelf``. Rows (1, "x") "s1", (1, "y")
  "s2", (2, "x") "s3".
- ``Book``: id, ``shelf_id`` and ``title``; the cache key ``(shelf.code,
  title)`` goes through a relationship to ``Shelf`` (not cached: shelves 1
  "A" and 2 "B"). Rows 1 on shelf 1 "t1", 2 on shelf 2 "t2".
"""

from sqlalchemy import ForeignKey, Integer, String, text
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, relationship

from fullcache_cli import HasFullTableCache

from tests.apps import reset_caches, seed_cache


class Base(DeclarativeBase):
    pass


class Shelf(Base):
    __tablename__ = "drifting_shelves"
    id = mapped_column(Integer, primary_key=True)
    code = mapped_column(String(20))


def _item_key(self):
    return self.code


def _holding_key(self):
    return self.shelf


def _holding_id(self):
    return (self.library_id, self.code)


def _book_key(self):
    return (self.shelf.code, self.title)


def _define(prefix, mixin, seed_style):
    def model(class_name, table, **namespace):
        namespace = {"__module__": __name__, "__tablename__": f"{prefix.lower()}_{table}", **namespace}
        if seed_style:
            namespace["_cache"] = mixin.RESET
            namespace["_id_cache"] = mixin.RESET
        return type(f"{prefix}{class_name}", (mixin, Base), namespace)

    item = model(
        "Item", "items",
        id=mapped_column(Integer, primary_key=True),
        code=mapped_column(String(20)),
        label=mapped_column(String(50)),
        cache_key=_item_key,
    )
    holding = model(
        "Holding", "holdings",
        library_id=mapped_column(Integer, primary_key=True),
        code=mapped_column(String(20), primary_key=True),
        shelf=mapped_column(String(20)),
        id=property(_holding_id),
        cache_key=_holding_key,
    )
    book = model(
        "Book", "books",
        id=mapped_column(Integer, primary_key=True),
        shelf_id=mapped_column(Integer, ForeignKey(Shelf.id)),
        title=mapped_column(String(50)),
        shelf=relationship(Shelf),
        cache_key=_book_key,
    )
    return item, holding, book


SeedItem, SeedHolding, SeedBook = _define("Seed", seed_cache.HasFullTableCache, seed_style=True)
FcItem, FcHolding, FcBook = _define("Fc", HasFullTableCache, seed_style=False)

MODELS = [SeedItem, SeedHolding, SeedBook, FcItem, FcHolding, FcBook]

ITEMS = [dict(id=n, code=code, label=f"label {code}") for n, code in enumerate("abcd", start=1)]
HOLDINGS = [
    dict(library_id=1, code="x", shelf="s1"),
    dict(library_id=1, code="y", shelf="s2"),
    dict(library_id=2, code="x", shelf="s3"),
]
SHELVES = [dict(id=1, code="A"), dict(id=2, code="B")]
BOOKS = [dict(id=1, shelf_id=1, title="t1"), dict(id=2, shelf_id=2, title="t2")]
ROWS = {"Item": ITEMS, "Holding": HOLDINGS, "Book": BOOKS}


def fill(engine):
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.execute(Shelf.__table__.insert(), SHELVES)
        for model in MODELS:
            session.execute(model.__table__.insert(), ROWS[model.__name__.removeprefix("Seed").removeprefix("Fc")])
        session.commit()


def reset_all():
    """Every model's caches cleared."""
    reset_caches(MODELS)


def write(url, prefix, statements):
    """Run SQL statements (``{items}``, ``{holdings}`` and ``{books}`` name
    the prefix's tables) in one committed transaction, on a connection of its
    own."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                tables = {name: f"{prefix.lower()}_{name}" for name in ("items", "holdings", "books")}
                connection.execute(text(statement.format(**tables)))
    finally:
        engine.dispose()


if __name__ == "__main__":
    # A writer in a process of its own: python -m tests.apps.drifting URL PREFIX STATEMENT...
    import sys

    write(sys.argv[1], sys.argv[2], sys.argv[3:])
