"""An application that keeps its own copy of the seed's mixin, with the
things discovery must leave out (an abstract base, an unmapped class that
has the protocol's names, a model without a cache) and one cached model
imported from another module."""

from sqlalchemy import Integer
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.apps import SeedNamed, seed_cached_base
from tests.apps.planted import SeedFormat  # noqa: F401  (imported models count too)
from tests.apps.seed_cache import HasFullTableCache


class Base(DeclarativeBase):
    pass


class Publisher(SeedNamed, Base):
    __tablename__ = "publishers"


CachedBase = seed_cached_base(Base)


class Volume(CachedBase):
    """Keyed by an int."""

    __tablename__ = "volumes"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)

    def cache_key(self):
        return self.number


class Edition(Base):
    __tablename__ = "editions"
    id: Mapped[int] = mapped_column(primary_key=True)


class Settings(HasFullTableCache):
    """Has the protocol's names but is not mapped."""

    _cache = HasFullTableCache.RESET
    _id_cache = HasFullTableCache.RESET


def fill(engine):
    from sqlalchemy.orm import Session

    Base.metadata.create_all(engine)
    SeedFormat.__table__.create(engine, checkfirst=True)
    with Session(engine) as session:
        session.add_all([Publisher(id=n, name=f"Publisher {n}") for n in range(1, 6)])
        session.add_all([Volume(id=n, number=100 + n) for n in range(1, 8)])
        session.add_all([Edition(id=1)])
        session.execute(SeedFormat.__table__.insert(), [dict(id=1, name="epub")])
        session.commit()
