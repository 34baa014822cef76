"""Models modules with known answers, for the tests."""

from sqlalchemy import Integer, String
from sqlalchemy.orm import Session, mapped_column

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


def fill_named(engine, base, models, ids=(1, 2, 3)) -> None:
    """Create ``base``'s tables and give each model rows ``{id, name}``."""
    base.metadata.create_all(engine)
    with Session(engine) as session:
        for model in models:
            session.execute(model.__table__.insert(), [{"id": n, "name": f"{model.__name__}-{n}"} for n in ids])
        session.commit()
