"""The mixin (fullcache_cli.runtime.mixin.HasFullTableCache) over time and
across sessions: reset and populate swap whole caches, a cached object comes
back attached to the caller's session, statistics add up, populate streams.

Every test runs on SQLite and PostgreSQL; model classes and fixtures come from
tests/mixin_models.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from fullcache_cli import CacheMergeError
from fullcache_cli.runtime.mixin import POPULATE_BATCH
from tests.apps.seed_cache import get_one
from tests.mixin_models import (  # noqa: F401  (engine, m, session: fixtures)
    GENRES, RESET, engine, hook_must_not_run, insert, m, session,
)


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
    with pytest.raises(sa_exc.InvalidRequestError,
                       match=r"^merge\(\) with load=False option does not support objects marked as 'dirty'"):
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
