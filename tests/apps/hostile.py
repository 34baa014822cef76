"""Models whose own code does what no model should, for the tests that one
model never takes the others' reports with it (and never the exit code).

- ``Exits``: populate_cache calls ``sys.exit(0)``
- ``ArgParses``: populate_cache parses a command line it does not know
  (argparse prints its usage and raises ``SystemExit(2)``)
- ``RaisesExit``: populate_cache raises ``SystemExit(3)``
- ``Cancelled``: populate_cache raises ``asyncio.CancelledError``
- ``GeneratorExits``: populate_cache raises ``GeneratorExit``
- ``LookupExits``: warms, and its ``by_id`` and ``by_cache_key`` (the
  lookup path) call ``sys.exit(0)``
- ``Composite``: a composite primary key with NULL in it (``id`` is the
  tuple ``(region, number)``), three rows whose ``cache_key()`` raises
- ``NanKey``: rows 2 and 3 have the key ``float("nan")``, never equal to
  itself
- ``ShiftyKey``: row 2's key hashes differently each time it is hashed
- ``Partial``: populate_cache caches one row of three, and from then on
  loading a row of its table raises (so that its rows cannot be read again)
- ``Plain``: a clean model after all of them

The module namespace also holds an object that raises on any attribute
access (a lazy proxy gone wrong) and a class whose metaclass raises on
unknown attributes: discovery must pass them by.
"""

import argparse
import asyncio
import sys
from itertools import count

from sqlalchemy import Column, Integer, String, Table, event, select
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

from fullcache_cli import HasFullTableCache
from tests.apps import fill_named, reset_caches


class Base(DeclarativeBase):
    pass


def _model(class_name, **extra):
    namespace = {
        "__module__": __name__,
        "__tablename__": f"hostile_{class_name.lower()}",
        "id": mapped_column(Integer, primary_key=True),
        "name": mapped_column(String(200)),
        "cache_key": lambda self: self.name,
        **extra,
    }
    return type(class_name, (HasFullTableCache, Base), namespace)


def _populate_raising(make_error):
    @classmethod
    def populate_cache(cls, _db):
        raise make_error()

    return populate_cache


@classmethod
def _populate_exits(cls, _db):
    sys.exit(0)


@classmethod
def _populate_argparse(cls, _db):
    argparse.ArgumentParser(prog="hostile").parse_args(["--no-such-option"])


@classmethod
def _by_id_exits(cls, _db, id):
    sys.exit(0)


@classmethod
def _by_cache_key_exits(cls, _db, cache_key, lookup_hook=None):
    sys.exit(0)


class _Shifty:
    """A key whose hash is different every time it is computed."""

    _hashes = count()

    def __init__(self, name):
        self.name = name

    def __hash__(self):
        return next(self._hashes)

    def __eq__(self, other):
        return isinstance(other, _Shifty) and other.name == self.name

    def __repr__(self):
        return f"Shifty({self.name!r})"


def _nan_key(self):
    return float("nan") if self.id in (2, 3) else self.name


def _shifty_key(self):
    return _Shifty(self.name) if self.id == 2 else self.name


Exits = _model("Exits", populate_cache=_populate_exits)
ArgParses = _model("ArgParses", populate_cache=_populate_argparse)
RaisesExit = _model("RaisesExit", populate_cache=_populate_raising(lambda: SystemExit(3)))
Cancelled = _model("Cancelled", populate_cache=_populate_raising(asyncio.CancelledError))
GeneratorExits = _model("GeneratorExits", populate_cache=_populate_raising(GeneratorExit))
LookupExits = _model("LookupExits", by_id=_by_id_exits, by_cache_key=_by_cache_key_exits)
NanKey = _model("NanKey", cache_key=_nan_key)
ShiftyKey = _model("ShiftyKey", cache_key=_shifty_key)

# No primary key in the table itself (so that PostgreSQL takes NULL in it
# too): the mapper declares one, as models of legacy tables do.
composite_table = Table(
    "hostile_composite",
    Base.metadata,
    Column("region", Integer),
    Column("number", Integer),
    Column("name", String(200)),
)


class Composite(HasFullTableCache, Base):
    __table__ = composite_table
    __mapper_args__ = {"primary_key": [composite_table.c.region, composite_table.c.number]}

    @property
    def id(self):
        return (self.region, self.number)

    def cache_key(self):
        if self.name.startswith("bad"):
            raise ValueError(f"no key for {self.name}")
        return self.name


@classmethod
def _populate_partial(cls, _db):
    cls.refuse_loading = False
    first = _db.execute(select(cls).order_by(cls.id).limit(1)).scalar_one()
    cache, id_cache = {}, {}
    cls._cache_insert(first, cache, id_cache)
    cls._cache, cls._id_cache = cache, id_cache
    cls.refuse_loading = True


Partial = _model("Partial", populate_cache=_populate_partial, refuse_loading=False)


@event.listens_for(Partial, "load")
def _refuse_loading(target, context):
    if type(target).refuse_loading:
        raise RuntimeError("rows of Partial cannot be loaded any more")


Plain = _model("Plain")

SIMPLE = [Exits, ArgParses, RaisesExit, Cancelled, GeneratorExits, LookupExits, NanKey, ShiftyKey, Partial, Plain]
# In the order the module defines them (the order fullcache finds them).
MODELS = SIMPLE[:8] + [Composite] + SIMPLE[8:]


class _RaisingProxy:
    """Whatever is asked of it, it raises (``__class__`` included)."""

    def __getattribute__(self, name):
        raise RuntimeError(f"proxy not bound: {name}")


class _RaisingMeta(type):
    def __getattr__(cls, name):
        raise RuntimeError(f"{cls.__name__} has no {name}, loudly")


class Loud(metaclass=_RaisingMeta):
    pass


unbound_proxy = _RaisingProxy()


def fill(engine):
    """Every table; three rows each, Composite's with NULL in its key."""
    fill_named(engine, Base, SIMPLE)
    with Session(engine) as session:
        session.execute(
            composite_table.insert(),
            [
                {"region": 1, "number": None, "name": "bad-a"},
                {"region": 1, "number": 2, "name": "bad-b"},
                {"region": None, "number": 1, "name": "bad-c"},
                {"region": 2, "number": 1, "name": "good"},
            ],
        )
        session.commit()


def reset_all():
    """Every model's caches cleared."""
    reset_caches(MODELS)
