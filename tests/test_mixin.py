"""The mixin (fullcache_cli.runtime.mixin.HasFullTableCache): the seed's protocol, and
what it does instead of the seed's silent failures.

Every test that touches a database runs on SQLite and PostgreSQL (the
``backend`` / ``database_url`` fixtures). Each test gets freshly defined model
classes (``define_models()``), so caches and statistics never leak from one
test, or one backend, into another.

A few tests contrast the seed's behaviour (an application's own copy of it:
``tests/apps/seed_cache.py``) with ours.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest
from sqlalchemy import BigInteger, ForeignKey, Integer, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, relationship

from fullcache_cli import CacheMergeError, HasFullTableCache
from fullcache_cli.runtime.mixin import POPULATE_BATCH
from tests.apps import seed_cache
from tests.apps.seed_cache import get_one

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

    class SeedFalsy(seed_cache.HasFullTableCache, Base):
        __tablename__ = "seed_falsy"
        _cache = seed_cache.HasFullTableCache.RESET
        _id_cache = seed_cache.HasFullTableCache.RESET
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String(50))

        def cache_key(self):
            return self.name

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


# ---------------------------------------------------------------------------
# The seed's protocol
# ---------------------------------------------------------------------------


PROTOCOL_METHODS = [
    "reset_cache",
    "cache_key",
    "_cache_insert",
    "populate_cache",
    "_cache_lookup",
    "by_id",
    "by_cache_key",
]


@pytest.mark.parametrize("name", PROTOCOL_METHODS)
def test_each_protocol_method_takes_the_seeds_arguments(name):
    """The seed's parameters, by name and in order; anything we add is optional."""
    seed = list(inspect.signature(getattr(seed_cache.HasFullTableCache, name)).parameters.values())
    ours = list(inspect.signature(getattr(HasFullTableCache, name)).parameters.values())
    assert [p.name for p in ours[: len(seed)]] == [p.name for p in seed]
    assert all(p.default is not inspect.Parameter.empty for p in ours[len(seed):])


def test_caches_start_reset_and_reset_cache_brings_them_back_to_reset(m):
    assert HasFullTableCache.RESET is m.Genre.RESET
    assert m.Genre._cache is RESET and m.Genre._id_cache is RESET
    m.Genre._cache, m.Genre._id_cache = {"x": 1}, {1: 1}
    m.Genre.reset_cache()
    assert m.Genre._cache is RESET and m.Genre._id_cache is RESET
    # The seed compares with == / !=: that works too.
    assert m.Genre._cache == m.Genre.RESET
    with pytest.raises(NotImplementedError):
        HasFullTableCache.cache_key(m.Genre(id=1, name="x"))


def application_code(Genre, session, other):
    """An application written against the seed: calls as the seed makes them.
    Returns what it saw, to be compared between the seed and our mixin."""
    seen = []
    Genre.reset_cache()
    seen.append(Genre._cache == Genre.RESET and Genre._id_cache == Genre.RESET)
    Genre.populate_cache(session)
    seen.append(sorted(Genre._id_cache))
    seen.append(sorted(Genre._cache))

    genre = Genre.by_id(session, 2)
    seen.append((genre.id, genre.name, genre in session))
    genre = Genre.by_id(other, 3)
    seen.append((genre.id, genre.name, genre in other))
    seen.append(Genre.by_id(session, 99))

    genre, is_new = Genre.by_cache_key(other, "Fiction", lambda: (get_one(other, Genre, name="Fiction"), False))
    seen.append((genre.id, genre.name, is_new, genre in other))

    def create():
        genre = Genre(id=10, name="Essay")
        other.add(genre)
        return genre, True

    created, is_new = Genre.by_cache_key(other, "Essay", create)
    seen.append((created.id, created.name, is_new, created in other))
    again, is_new = Genre.by_cache_key(other, "Essay", create)  # cached now
    seen.append((again is created, is_new))
    seen.append(Genre.by_cache_key(other, "Nope", lambda: (None, False)))

    obj, is_new = Genre._cache_lookup(session, Genre._id_cache, "_id_cache", 1, lambda: (None, False))
    seen.append((obj.id, is_new))
    extra = Genre(id=11, name="Saga")
    Genre._cache_insert(extra, Genre._cache, Genre._id_cache)
    seen.append((Genre._cache["Saga"] is extra, Genre._id_cache[11] is extra))
    Genre.reset_cache()
    seen.append(Genre.by_id(session, 1).name)  # a lookup after a reset populates again
    return seen


def test_code_written_against_the_seed_works_unchanged(m, engine, session):
    insert(engine, m.Genre, GENRES)
    insert(engine, m.SeedGenre, GENRES)
    ours = application_code(m.Genre, session(), session())
    seeds = application_code(m.SeedGenre, session(), session())
    assert ours == seeds
    assert ours[1] == [1, 2, 3] and ours[2] == ["Drama", "Fiction", "Poetry"]


def test_a_cached_object_not_in_the_callers_session_comes_back_merged_into_it(m, engine, session):
    insert(engine, m.Genre, GENRES)
    loader, caller = session(), session()
    m.Genre.populate_cache(loader)
    cached = m.Genre._id_cache[2]

    genre = m.Genre.by_id(caller, 2)
    assert genre is not cached and genre in caller and cached not in caller
    assert (genre.id, genre.name) == (2, "Poetry")

    genre, is_new = m.Genre.by_cache_key(caller, "Drama", None)
    assert genre in caller and (genre.id, is_new) == (3, False)

    # In the session that populated, the cached object itself comes back.
    assert m.Genre.by_id(loader, 2) is cached


def test_seed_style_declarations_still_work(m, engine, session):
    insert(engine, m.Declared, GENRES)
    insert(engine, m.Genre, GENRES)
    s = session()
    assert "_cache" in vars(m.Declared) and m.Declared._cache is RESET

    assert m.Declared.by_id(s, 1).name == "Fiction"
    assert m.Declared.by_cache_key(s, "Poetry", None)[0].id == 2
    assert sorted(m.Declared._id_cache) == [1, 2, 3]
    assert m.Genre._cache is RESET  # nothing shared with another model
    m.Declared.reset_cache()
    assert m.Declared._cache is RESET and m.Declared._id_cache is RESET
    assert m.Declared.cache_stats().populates == 1


def test_a_model_that_declares_nothing_gets_caches_of_its_own(m, engine, session):
    insert(engine, m.Genre, GENRES)
    insert(engine, m.Item, [
        dict(id=1, name="plain", kind="item"),
        dict(id=2, name="shiny", kind="special"),
        dict(id=3, name="dull", kind="item"),
    ])
    s = session()
    for model in (m.Genre, m.FalsyByBool, m.Item, m.SpecialItem):
        assert "_cache" in vars(model) and "_id_cache" in vars(model)

    m.Item.populate_cache(s)
    assert sorted(m.Item._id_cache) == [1, 2, 3]
    # Neither the base mixin, another model, nor the subclass shares it.
    assert HasFullTableCache._cache is RESET
    assert m.Genre._cache is RESET and m.SpecialItem._cache is RESET
    assert m.SpecialItem.cache_stats().populates == 0

    m.SpecialItem.populate_cache(s)
    assert sorted(m.SpecialItem._id_cache) == [2]
    assert m.SpecialItem._cache is not m.Item._cache
    m.SpecialItem.reset_cache()
    assert m.SpecialItem._cache is RESET
    assert sorted(m.Item._id_cache) == [1, 2, 3]  # the parent's caches are untouched
    assert m.Item.cache_stats().populates == 1

    m.Genre.populate_cache(s)
    assert sorted(m.Genre._cache) == ["Drama", "Fiction", "Poetry"]
    assert m.Genre._cache is not m.Item._cache and m.Genre._fullcache is not m.Item._fullcache


# ---------------------------------------------------------------------------
# What the seed got wrong
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["FalsyByBool", "FalsyByLen"])
def test_a_falsy_object_is_still_a_hit(m, engine, session, model):
    Falsy = getattr(m, model)
    insert(engine, Falsy, [dict(id=1, name="empty"), dict(id=2, name="void")])
    loader, caller = session(), session()
    Falsy.populate_cache(loader)
    assert not Falsy._id_cache[1]

    assert Falsy.by_id(loader, 1) is Falsy._id_cache[1]
    obj, is_new = Falsy.by_cache_key(caller, "void", hook_must_not_run)
    assert obj is not None and obj.id == 2 and obj in caller and is_new is False
    assert Falsy.by_cache_key(loader, "empty", None)[0] is Falsy._cache["empty"]
    stats = Falsy.cache_stats()
    assert (stats.hits, stats.misses) == (3, 0)


def test_the_seed_counts_a_falsy_object_as_a_miss(m, engine, session):
    insert(engine, m.SeedFalsy, [dict(id=1, name="empty")])
    s = session()
    m.SeedFalsy.populate_cache(s)
    assert m.SeedFalsy._cache["empty"].id == 1
    assert m.SeedFalsy.by_cache_key(s, "empty", None) == (None, False)


TAGGED_BAD_KEYS = [
    dict(id=1, code="a"),
    dict(id=2, code="list:x"),   # unhashable
    dict(id=3, code="raise:y"),  # cache_key() raises
    dict(id=4, code="b"),
]


def test_a_key_whose_hash_raises_keeps_the_row_by_id_and_never_aborts_populate(m, engine, session):
    insert(engine, m.Tagged, [dict(id=1, code="a"), dict(id=2, code="badhash:z"), dict(id=3, code="b")])
    m.Tagged.populate_cache(session())

    assert sorted(m.Tagged._id_cache) == [1, 2, 3]
    assert sorted(m.Tagged._cache) == ["a", "b"]
    errors = dict(m.Tagged.cache_stats().key_errors)
    assert list(errors) == [2] and "RuntimeError: hash of a broken key" in errors[2]


def test_a_bad_key_keeps_the_row_by_id_and_never_aborts_populate(m, engine, session):
    insert(engine, m.Tagged, TAGGED_BAD_KEYS)
    loader, caller = session(), session()
    m.Tagged.populate_cache(loader)

    assert sorted(m.Tagged._id_cache) == [1, 2, 3, 4]
    assert sorted(m.Tagged._cache) == ["a", "b"]
    errors = dict(m.Tagged.cache_stats().key_errors)
    assert sorted(errors) == [2, 3]
    assert "TypeError" in errors[2] and "unhashable" in errors[2]
    assert "ValueError" in errors[3] and "raise:y" in errors[3]

    assert m.Tagged.by_id(caller, 2).code == "list:x"
    assert m.Tagged.by_id(caller, 3).code == "raise:y"
    assert m.Tagged.by_cache_key(caller, "b", None)[0].id == 4
    # An unhashable key to look up is a miss, not an error.
    assert m.Tagged.by_cache_key(caller, ["list:x"], None) == (None, False)
    stats = m.Tagged.cache_stats()
    assert (stats.populates, stats.last_populate_rows, stats.cached_ids, stats.cached_keys) == (1, 4, 4, 2)
    assert (stats.hits, stats.misses) == (3, 1)


def test_the_seed_drops_an_unhashable_row_and_aborts_on_a_raising_key(m, engine, session):
    s = session()
    insert(engine, m.SeedTagged, [row for row in TAGGED_BAD_KEYS if row["id"] != 3])
    m.SeedTagged.populate_cache(s)
    assert sorted(m.SeedTagged._id_cache) == [1, 4]  # row 2 is in neither cache
    assert sorted(m.SeedTagged._cache) == ["a", "b"]

    insert(engine, m.SeedTagged, [row for row in TAGGED_BAD_KEYS if row["id"] == 3])
    m.SeedTagged.reset_cache()
    with pytest.raises(ValueError):
        m.SeedTagged.populate_cache(s)
    assert m.SeedTagged._id_cache is m.SeedTagged.RESET


def test_two_rows_with_one_key_the_lowest_id_keeps_it_whatever_the_order(m, engine, session):
    # Inserted so that the higher ids are read first (checked below).
    insert(engine, m.Tagged, [
        dict(id=5, code="dup"),
        dict(id=2, code="dup"),
        dict(id=7, code="dup"),
        dict(id=4, code="solo"),
        dict(id=9, code="pair"),
        dict(id=8, code="pair"),
    ])
    loader, caller = session(), session()
    order = read_order(m.Tagged)
    m.Tagged.populate_cache(loader)
    assert order == [5, 2, 7, 4, 9, 8]  # the premise: a higher id came first

    assert m.Tagged._cache["dup"].id == 2
    assert m.Tagged._cache["pair"].id == 8
    assert m.Tagged._cache["solo"].id == 4
    collisions = m.Tagged.cache_stats().collisions
    assert {key: sorted(ids) for key, ids in collisions.items()} == {"dup": [2, 5, 7], "pair": [8, 9]}
    assert m.Tagged.by_cache_key(caller, "dup", None)[0].id == 2
    assert m.Tagged.by_id(caller, 5).code == "dup"  # the losers stay reachable by id

    # The seed keeps whichever row came last.
    insert(engine, m.SeedTagged, [dict(id=5, code="dup"), dict(id=2, code="dup"), dict(id=7, code="dup")])
    m.SeedTagged.populate_cache(loader)
    assert m.SeedTagged._cache["dup"].id == 7


def test_a_none_key_is_not_a_key(m, engine, session):
    insert(engine, m.Tagged, [dict(id=1, code=None), dict(id=2, code=None), dict(id=3, code="c")])
    s = session()
    m.Tagged.populate_cache(s)
    assert None not in m.Tagged._cache and sorted(m.Tagged._cache) == ["c"]
    assert sorted(m.Tagged.cache_stats().none_keys) == [1, 2]
    assert m.Tagged.cache_stats().collisions == {}
    assert m.Tagged.by_id(s, 1).code is None
    assert m.Tagged.by_cache_key(s, None, None) == (None, False)

    # The seed files both rows under the key None; the last one wins.
    insert(engine, m.SeedTagged, [dict(id=1, code=None), dict(id=2, code=None)])
    m.SeedTagged.populate_cache(s)
    assert m.SeedTagged.by_cache_key(s, None, None)[0].id == 2


def test_a_row_put_back_after_a_failed_merge_is_recorded_once(m, engine, session):
    insert(engine, m.Tagged, [
        dict(id=1, code="dup"),
        dict(id=2, code="dup"),
        dict(id=3, code=None),
        dict(id=4, code="raise:x"),
    ])
    m.Tagged.populate_cache(session())
    before = m.Tagged.cache_stats()
    assert before.collisions == {"dup": (1, 2)}
    assert (before.none_keys, [id for id, _ in before.key_errors]) == ((3,), [4])

    caller = session()
    for id in (2, 3, 4):
        m.Tagged._id_cache[id].note = "dirty"
        assert m.Tagged.by_id(caller, id).note is None  # the fresh copy goes back in
    after = m.Tagged.cache_stats()
    assert after.merge_failures == 3
    assert (after.collisions, after.none_keys, after.key_errors) == (
        before.collisions, before.none_keys, before.key_errors)


# ---------------------------------------------------------------------------
# Reset and populate
# ---------------------------------------------------------------------------


def test_populate_builds_new_dicts_and_swaps_them_in(m, engine, session):
    insert(engine, m.Genre, GENRES)
    s = session()
    m.Genre.populate_cache(s)
    old_cache, old_id_cache = m.Genre._cache, m.Genre._id_cache
    insert(engine, m.Genre, [dict(id=4, name="Essay")])
    m.Genre.populate_cache(s)
    assert m.Genre._cache is not old_cache and m.Genre._id_cache is not old_id_cache
    assert sorted(old_id_cache) == [1, 2, 3] and sorted(old_cache) == ["Drama", "Fiction", "Poetry"]
    assert sorted(m.Genre._id_cache) == [1, 2, 3, 4]


def test_no_one_sees_a_half_built_cache_during_populate(m, engine, session):
    insert(engine, m.Genre, [dict(id=n, name=f"g{n}") for n in range(1, 51)])
    s = session()
    seen = []

    def look(obj):
        seen.append((m.Genre._cache, m.Genre._id_cache))

    m.Genre.on_cache_key = look
    m.Genre.populate_cache(s)  # first populate: nothing published yet
    assert len(seen) == 50 and all(c is RESET and i is RESET for c, i in seen)

    seen.clear()
    published = m.Genre._cache, m.Genre._id_cache
    m.Genre.populate_cache(s)  # a repopulate: the old caches, whole, until the swap
    assert len(seen) == 50
    assert all(c is published[0] and i is published[1] for c, i in seen)
    assert len(published[0]) == len(published[1]) == 50


def test_a_reset_during_populate_wins_and_nothing_raises(m, engine, session):
    insert(engine, m.Genre, [dict(id=n, name=f"g{n}") for n in range(1, 21)])
    s, other = session(), session()

    def reset_at_row_10(obj):
        if obj.id == 10:
            m.Genre.reset_cache()

    m.Genre.on_cache_key = reset_at_row_10
    m.Genre.populate_cache(s)
    assert m.Genre._cache is RESET and m.Genre._id_cache is RESET  # not published
    assert m.Genre.cache_stats().populates == 1

    # A lookup whose populate is overtaken by a reset still answers, from the
    # database, and still publishes nothing.
    assert m.Genre.by_id(other, 7).name == "g7"
    genre, is_new = m.Genre.by_cache_key(other, "g8", lambda: (other.get(m.Genre, 8), False))
    assert (genre.id, is_new) == (8, False)
    assert m.Genre.by_cache_key(other, "g9", None) == (None, False)
    assert m.Genre._cache is RESET and m.Genre._id_cache is RESET
    stats = m.Genre.cache_stats()
    assert (stats.populates, stats.hits, stats.misses) == (4, 0, 3)

    m.Genre.on_cache_key = None
    assert m.Genre.by_id(other, 7).name == "g7"
    assert len(m.Genre._cache) == len(m.Genre._id_cache) == 20


# ---------------------------------------------------------------------------
# Merging into the caller's session
# ---------------------------------------------------------------------------


def dirty_cache(m, engine, session):
    """Genre rows cached by a session in which row 2 was then changed."""
    insert(engine, m.Genre, GENRES)
    loader = session()
    m.Genre.populate_cache(loader)
    m.Genre._id_cache[2].name = "Changed in memory"  # now dirty: merge(load=False) refuses it
    return loader


def test_a_failed_merge_without_a_hook_raises_cache_merge_error(m, engine, session):
    dirty_cache(m, engine, session)
    caller = session()
    with pytest.raises(CacheMergeError, match=r"cached Genre id=2 cannot be merged .*dirty") as caught:
        m.Genre.by_cache_key(caller, "Poetry", None)
    assert isinstance(caught.value, LookupError)
    assert caught.value.__cause__ is not None  # the merge's own error
    assert "lookup_hook" in str(caught.value) and "reset_cache" in str(caught.value)
    stats = m.Genre.cache_stats()
    assert (stats.merge_failures, stats.merges, stats.hits, stats.misses) == (1, 0, 0, 0)


@pytest.mark.parametrize("how", ["by_id", "by_cache_key"])
def test_a_failed_merge_with_a_hook_returns_a_fresh_copy_that_replaces_the_cache_entry(m, engine, session, how):
    dirty_cache(m, engine, session)
    caller = session()
    if how == "by_id":
        genre = m.Genre.by_id(caller, 2)
    else:
        genre, is_new = m.Genre.by_cache_key(caller, "Poetry", lambda: (caller.get(m.Genre, 2), False))
        assert is_new is False
    assert genre in caller and (genre.id, genre.name) == (2, "Poetry")  # from the database
    assert m.Genre._id_cache[2] is genre and m.Genre._cache["Poetry"] is genre
    assert m.Genre.cache_stats().merge_failures == 1

    # The replacement merges fine into yet another session.
    third = session()
    again = m.Genre.by_id(third, 2)
    assert again in third and again.name == "Poetry"
    assert (m.Genre.cache_stats().merge_failures, m.Genre.cache_stats().merges) == (1, 1)


def test_a_failed_merge_whose_hook_finds_nothing_reraises_the_merge_error(m, engine, session):
    dirty_cache(m, engine, session)
    with pytest.raises(Exception, match="dirty"):
        m.Genre.by_cache_key(session(), "Poetry", lambda: (None, False))


@pytest.mark.parametrize("stage", ["pending", "flushed"])
@pytest.mark.parametrize("copy", ["merged copy", "cached object itself", "session's own copy"])
def test_an_object_deleted_in_the_callers_session_is_not_returned(m, engine, session, stage, copy):
    insert(engine, m.Genre, GENRES)
    loader = session()
    m.Genre.populate_cache(loader)
    cached = m.Genre._id_cache[2]
    if copy == "merged copy":
        caller = session()
        doomed = m.Genre.by_id(caller, 2)
    elif copy == "cached object itself":
        caller = loader
        doomed = m.Genre._id_cache[2]
    else:
        caller = session()
        doomed = caller.get(m.Genre, 2)
    caller.delete(doomed)
    if stage == "flushed":
        caller.flush()

    assert m.Genre.by_id(caller, 2) is None
    assert m.Genre.by_cache_key(caller, "Poetry", None) == (None, False)
    # A hook that asks the database agrees.
    assert m.Genre.by_cache_key(caller, "Poetry", lambda: (get_one(caller, m.Genre, name="Poetry"), False)) == (None, False)
    # The other rows, the cache and other sessions are not affected.
    assert m.Genre.by_id(caller, 1).name == "Fiction"
    assert m.Genre._id_cache[2] is cached and m.Genre._cache["Poetry"] is cached
    if caller is not loader:
        assert m.Genre.by_id(loader, 2) is cached


def test_an_object_merged_once_is_not_merged_again(m, engine, session):
    insert(engine, m.Genre, GENRES)
    m.Genre.populate_cache(session())
    caller = session()
    first = m.Genre.by_id(caller, 2)
    assert m.Genre.cache_stats().merges == 1
    for _ in range(5):
        assert m.Genre.by_id(caller, 2) is first
        assert m.Genre.by_cache_key(caller, "Poetry", hook_must_not_run) == (first, False)
    stats = m.Genre.cache_stats()
    assert (stats.merges, stats.hits) == (1, 11)
    # Another session gets its own copy, merged once.
    other = session()
    assert m.Genre.by_id(other, 2) is not first
    assert m.Genre.cache_stats().merges == 2


def test_the_sessions_own_copy_is_returned_when_it_already_loaded_the_row(m, engine, session):
    insert(engine, m.Genre, GENRES)
    m.Genre.populate_cache(session())
    caller = session()
    own = caller.get(m.Genre, 3)
    assert m.Genre.by_id(caller, 3) is own
    assert m.Genre.by_cache_key(caller, "Drama", None) == (own, False)
    assert m.Genre.cache_stats().merges == 0


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


def test_statistics_add_up_in_a_scripted_sequence(m, engine, session):
    insert(engine, m.Genre, GENRES)
    Genre = m.Genre
    start = Genre.cache_stats()
    assert (start.hits, start.misses, start.populates, start.merges, start.merge_failures) == (0, 0, 0, 0, 0)
    assert start.last_populate_seconds is None and start.last_populate_rows is None
    assert (start.cached_ids, start.cached_keys) == (0, 0)

    loader, caller, third = session(), session(), session()
    lookups = 0

    def count(value):
        nonlocal lookups
        lookups += 1
        return value

    count(Genre.by_id(loader, 1))                         # populates; hit, no merge (same session)
    count(Genre.by_id(loader, 1))                         # hit
    count(Genre.by_cache_key(loader, "Drama", None))      # hit
    count(Genre.by_id(loader, 99))                        # miss (the hook finds nothing)
    count(Genre.by_cache_key(loader, "Nope", None))       # miss, no hook
    count(Genre.by_cache_key(loader, "Nope", lambda: (None, False)))  # miss
    stats = Genre.cache_stats()
    assert (stats.hits, stats.misses, stats.populates, stats.merges, stats.merge_failures) == (3, 3, 1, 0, 0)
    assert stats.last_populate_rows == 3 and stats.last_populate_seconds > 0
    assert (stats.cached_ids, stats.cached_keys) == (3, 3)

    count(Genre.by_id(caller, 2))                         # hit + merge
    count(Genre.by_id(caller, 2))                         # hit, already merged
    count(Genre.by_cache_key(caller, "Fiction", None))    # hit + merge
    stats = Genre.cache_stats()
    assert (stats.hits, stats.misses, stats.merges) == (6, 3, 2)

    insert(engine, Genre, [dict(id=4, name="Essay")])
    count(Genre.by_id(caller, 4))                         # miss; the hook loads it and caches it
    count(Genre.by_cache_key(third, "Essay", None))       # now a hit + merge
    stats = Genre.cache_stats()
    assert (stats.hits, stats.misses, stats.merges, stats.cached_ids, stats.cached_keys) == (7, 4, 3, 4, 4)
    assert stats.last_populate_rows == 3  # no populate since

    Genre.reset_cache()
    assert (Genre.cache_stats().cached_ids, Genre.cache_stats().cached_keys) == (0, 0)
    count(Genre.by_id(caller, 3))                         # populates in caller; hit, no merge
    stats = Genre.cache_stats()
    assert (stats.hits, stats.populates, stats.merges, stats.last_populate_rows) == (8, 2, 3, 4)

    Genre._id_cache[1].name = "Dirty"                     # caller's copy of row 1, now in the cache
    count(Genre.by_id(third, 1))                          # merge failure -> the hook's fresh copy
    stats = Genre.cache_stats()
    assert (stats.hits, stats.misses, stats.merges, stats.merge_failures) == (8, 4, 3, 1)

    # Every lookup was exactly one of: a hit, a miss, a merge failure.
    assert stats.hits + stats.misses + stats.merge_failures == lookups == 13
    assert stats.as_dict() == {
        "hits": 8, "misses": 4, "populates": 2, "merges": 3, "merge_failures": 1,
        "last_populate_seconds": stats.last_populate_seconds, "last_populate_rows": 4,
        "cached_ids": 4, "cached_keys": 4,
    }


# ---------------------------------------------------------------------------
# Populate streams the table
# ---------------------------------------------------------------------------


def watch_yield_per(session):
    """The yield_per asked for by each ORM statement the session runs."""
    requested = []
    event.listen(session, "do_orm_execute", lambda state: requested.append(state.execution_options.get("yield_per")))
    return requested


def test_populate_streams_a_large_table(m, engine, session):
    rows = 5000
    insert(engine, m.Genre, [dict(id=n, name=f"genre {n}") for n in range(1, rows + 1)])
    s = session()
    requested = watch_yield_per(s)
    m.Genre.populate_cache(s)
    assert requested == [POPULATE_BATCH] and POPULATE_BATCH < rows  # streamed in batches, not fetched whole
    stats = m.Genre.cache_stats()
    assert (stats.last_populate_rows, stats.cached_ids, stats.cached_keys) == (rows, rows, rows)
    assert sorted(m.Genre._id_cache) == list(range(1, rows + 1))
    assert all(m.Genre._cache[f"genre {n}"].id == n for n in range(1, rows + 1))
    caller = session()
    assert m.Genre.by_id(caller, 4321).name == "genre 4321"
    assert m.Genre.by_cache_key(caller, "genre 17", None)[0].id == 17


def test_a_model_with_a_joined_eager_collection_still_populates(m, engine, session):
    insert(engine, m.Author, [dict(id=1, name="Ann"), dict(id=2, name="Bo"), dict(id=3, name="Cy")])
    insert(engine, m.Book, [
        dict(id=1, author_id=1, title="a1"),
        dict(id=2, author_id=1, title="a2"),
        dict(id=3, author_id=1, title="a3"),
        dict(id=4, author_id=3, title="c1"),
    ])
    s = session()
    requested = watch_yield_per(s)
    m.Author.populate_cache(s)
    assert requested == [POPULATE_BATCH, None]  # yield_per refuses the joined collection: plain fetch
    stats = m.Author.cache_stats()
    assert (stats.last_populate_rows, stats.cached_ids, stats.cached_keys) == (3, 3, 3)
    assert stats.collisions == {} and stats.key_errors == ()
    assert [b.title for b in m.Author._id_cache[1].books] == ["a1", "a2", "a3"]
    assert m.Author._cache["Bo"].books == []
    caller = session()
    author = m.Author.by_id(caller, 3)
    assert author in caller and author.name == "Cy"
