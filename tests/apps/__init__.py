"""Models modules with known answers, for the tests.

A module that the ``app_database`` helper (tests/helpers.py) sets up offers
``fill(engine)`` (its tables and rows), ``reset_all()`` (its own state, such
as ``CONTROL`` or a record of writes, back to the start, and every model's
caches cleared) and, when the tests steer its code, a ``CONTROL`` dict.
"""

import re
import sqlite3
import sys

from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Session, declared_attr, mapped_column

from fullcache_cli import HasFullTableCache
from tests.apps import seed_cache


class NamedRows:
    """Rows ``{id, name}`` keyed by the name, as fill_named gives them."""

    id = mapped_column(Integer, primary_key=True)
    name = mapped_column(String(100))

    def cache_key(self):
        return self.name


class Named(NamedRows, HasFullTableCache):
    """A model on fullcache's mixin whose rows are ``{id, name}``."""


class SeedCaches(seed_cache.HasFullTableCache):
    """The seed's own copy of the mixin, with the two caches each model must
    declare for itself declared for every subclass (fresh RESET markers), as
    the applications that use it write them out by hand."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("_cache", "_id_cache"):
            if name not in cls.__dict__:
                setattr(cls, name, seed_cache.HasFullTableCache.RESET)


class SeedNamed(NamedRows, SeedCaches):
    """A model on the seed's copy of the mixin whose rows are ``{id, name}``."""


def named_models(prefix: str) -> type:
    """The base of one module's ``Named`` models: a declarative base of their
    own (the module's tables apart from every other module's), and each
    model's table named ``<prefix>_<its name in snake case>`` unless it names
    its own."""

    class Base(DeclarativeBase):
        pass

    class NamedModel(Named, Base):
        __abstract__ = True

        @declared_attr.directive
        def __tablename__(cls) -> str:
            return f"{prefix}_{re.sub(r'(?<!^)(?=[A-Z])', '_', cls.__name__).lower()}"

    return NamedModel


def seed_cached_base(base: type) -> type:
    """An abstract model of ``base`` on the seed's copy of the mixin whose body
    declares ``_cache = _id_cache = RESET`` once for all its models, as an
    application's own cached base does: each model inherits RESET until its
    first populate gives it caches of its own."""
    reset = seed_cache.HasFullTableCache.RESET
    namespace = {"__abstract__": True, "_cache": reset, "_id_cache": reset, "__module__": base.__module__}
    return type("CachedBase", (seed_cache.HasFullTableCache, base), namespace)


def drop_authorizer(raw) -> None:
    """Remove a sqlite3 connection's authorizer, as hostile model code may:
    ``None`` from Python 3.11; before, where ``None`` would be called and
    refuse everything, an authorizer that allows everything."""
    raw.set_authorizer(None if sys.version_info >= (3, 11) else (lambda *_: sqlite3.SQLITE_OK))


def reset_caches(models) -> None:
    """Clear every model's caches."""
    for model in models:
        model.reset_cache()


class Attempts:
    """The writes a model's code tried (``attempted``) and those that did not
    raise (``written``)."""

    def __init__(self) -> None:
        self.attempted: list = []
        self.written: list = []

    def run(self, what, write) -> None:
        """Run one write; an error is the database refusing it, and the code
        goes on as an application's would."""
        self.attempted.append(what)
        try:
            write()
            self.written.append(what)
        except Exception:
            pass

    def clear(self) -> None:
        """Forget every write tried and made, for the next test."""
        self.attempted.clear()
        self.written.clear()


def fill_named(engine, base, models, ids=(1, 2, 3)) -> None:
    """Create ``base``'s tables and give each model rows ``{id, name}``."""
    base.metadata.create_all(engine)
    with Session(engine) as session:
        for model in models:
            session.execute(model.__table__.insert(), [{"id": n, "name": f"{model.__name__}-{n}"} for n in ids])
        session.commit()
