"""A class that follows the protocol but has no caches of its own: found,
listed with the reason, and a problem of its own kind (``shared_cache``),
never skipped in silence nor populated into caches the application never
gives it."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import fullcache_cli
from fullcache_cli.loading import discover_models, shared_cache
from tests.apps import seed_cache, seed_cached_base

Seed = seed_cache.HasFullTableCache


class Base(DeclarativeBase):
    pass


class Own(Seed, Base):
    __tablename__ = "own"
    _cache = Seed.RESET
    _id_cache = Seed.RESET
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "own"}

    def cache_key(self):
        return self.id


class Child(Own):
    """Single-table inheritance: reads Own's caches (Own's rows) until a
    populate of its own."""

    __mapper_args__ = {"polymorphic_identity": "child"}


AbstractCached = seed_cached_base(Base)


class FromAbstract(AbstractCached):
    """Inherits RESET from an abstract base: its first populate sets its own."""

    __tablename__ = "from_abstract"
    id: Mapped[int] = mapped_column(primary_key=True)

    def cache_key(self):
        return self.id


class Undeclared(Seed, Base):
    __tablename__ = "undeclared"
    id: Mapped[int] = mapped_column(primary_key=True)
    own_id: Mapped[int] = mapped_column(ForeignKey("own.id"))

    def cache_key(self):
        return self.own_id


class Fullcache(fullcache_cli.HasFullTableCache, Base):
    __tablename__ = "fullcache"
    id: Mapped[int] = mapped_column(primary_key=True)

    def cache_key(self):
        return self.id


def test_which_classes_share_caches():
    assert shared_cache(Own) is None
    assert shared_cache(FromAbstract) is None
    assert shared_cache(Fullcache) is None
    assert f"shares those of the model {Own.__module__}.Own," in shared_cache(Child)
    assert "declares no caches of its own and inherits none" in shared_cache(Undeclared)
    assert "declare _cache = _id_cache = RESET in its class body" in shared_cache(Undeclared)


def test_classes_without_caches_of_their_own_are_found_with_the_reason():
    import sys

    found = {model.name: model.shared_cache for model in discover_models(sys.modules[__name__])}
    assert set(found) == {"Own", "Child", "FromAbstract", "Undeclared", "Fullcache"}
    assert [name for name, note in found.items() if note] == ["Child", "Undeclared"]


def test_a_shared_cache_is_a_problem_and_is_never_populated(database_url):
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url, poolclass=NullPool)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(Own.__table__.insert(), [dict(id=1, kind="own"), dict(id=2, kind="child")])
        connection.execute(Undeclared.__table__.insert(), [dict(id=1, own_id=1)])
    engine.dispose()

    report = fullcache_cli.check(database_url, [Own, Child, Undeclared])
    problems = {(p.model, p.kind) for p in report.problems()}
    assert problems == {("Child", "shared_cache"), ("Undeclared", "shared_cache")}
    assert not report.ok
    models = {m.model: m for m in report.models}
    assert models["Undeclared"].rows == 1 and models["Undeclared"].cached_ids is None
    assert models["Own"].cached_ids == 2
    # Not populated: it still has no caches of its own, and still says so.
    assert "_cache" not in Undeclared.__dict__ and "_cache" not in Child.__dict__
    assert shared_cache(Undeclared) is not None
    allowed = fullcache_cli.check(database_url, [Undeclared], allow=["shared_cache"])
    assert allowed.ok
