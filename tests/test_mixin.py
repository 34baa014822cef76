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

import pytest

from fullcache_cli import HasFullTableCache
from tests.apps import seed_cache
from tests.apps.seed_cache import get_one
from tests.mixin_models import (  # noqa: F401  (engine, m, session: fixtures)
    GENRES, RESET, engine, hook_must_not_run, insert, m, read_order, session,
)


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
