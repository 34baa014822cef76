"""Property tests (hypothesis) for the mixin's cache-building invariants.

``_cache_insert`` only needs ``obj.id`` and ``obj.cache_key()``, so most of
these run without a database, on plain ``Row`` objects, each example with a
model class of its own (a fresh class has fresh caches and statistics).

For any sequence of rows, whatever their keys (duplicates, None, unhashable
values, cache_key() raising) and whatever their order:
- every row with an id is in the id cache (the latest copy of it);
- every hashable, non-None key maps to the row with the lowest id among those
  sharing it; None keys and bad keys are in no key cache;
- ``collisions`` records exactly the ids sharing each key, ``key_errors``
  exactly the rows whose key raised or was unhashable, ``none_keys`` exactly
  the rows whose key was None, each id once;
- inserting never raises.

The last test checks the same through a real populate on both backends.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, String, create_engine, delete
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

from fullcache_cli import HasFullTableCache


class Raises:
    """A key spec: cache_key() raises."""

    def __repr__(self):
        return "RAISES"


RAISES = Raises()


class Row:
    """Stands in for a mapped object: all _cache_insert asks of one."""

    def __init__(self, id, key):
        self.id = id
        self.key = key

    def cache_key(self):
        if self.key is RAISES:
            raise ValueError(f"no key for row {self.id}")
        return self.key

    def __repr__(self):
        return f"Row({self.id!r}, {self.key!r})"


def fresh_model():
    class Model(HasFullTableCache):
        """Unmapped: _cache_insert and the statistics are all it uses."""

    return Model


def kind(key):
    if key is RAISES:
        return "raises"
    if key is None:
        return "none"
    try:
        hash(key)
    except TypeError:
        return "unhashable"
    return "good"


# Few distinct values, so that rows share keys often.
KEYS = st.one_of(
    st.integers(0, 4),
    st.sampled_from(["a", "b", "c"]),
    st.tuples(st.integers(0, 2)),              # hashable tuple
    st.none(),
    st.lists(st.integers(0, 2), max_size=2),   # unhashable
    st.tuples(st.lists(st.integers(0, 1), max_size=1)),  # a tuple holding a list: unhashable too
    st.just(RAISES),
)

# A table: distinct ids, read in any order.
TABLES = st.lists(st.tuples(st.integers(1, 60), KEYS), unique_by=lambda row: row[0], max_size=40)


def insert_all(Model, rows, cache=None, id_cache=None):
    cache = {} if cache is None else cache
    id_cache = {} if id_cache is None else id_cache
    for row in rows:
        Model._cache_insert(row, cache, id_cache)  # the seed's three arguments
    return cache, id_cache


def expected_keys(rows):
    """key -> rows with that (good) key, in insertion order."""
    groups = defaultdict(list)
    for row in rows:
        if kind(row.key) == "good":
            groups[row.key].append(row)
    return groups


def check_records(stats, rows):
    """The records of a table's rows (distinct ids): exact, in order, each id once."""
    groups = expected_keys(rows)
    sharing = {key: sorted({r.id for r in members}) for key, members in groups.items() if len({r.id for r in members}) > 1}
    assert {key: sorted(ids) for key, ids in stats.collisions.items()} == sharing
    assert all(len(ids) == len(set(ids)) for ids in stats.collisions.values())
    assert [id for id, _ in stats.key_errors] == [r.id for r in rows if kind(r.key) in ("raises", "unhashable")]
    for (id, error), row in zip(stats.key_errors, [r for r in rows if kind(r.key) in ("raises", "unhashable")]):
        assert error.startswith("ValueError" if row.key is RAISES else "TypeError")
    assert list(stats.none_keys) == [r.id for r in rows if r.key is None]


@given(TABLES)
def test_a_table_of_rows_goes_in_whole(table):
    Model = fresh_model()
    rows = [Row(id, key) for id, key in table]
    cache, id_cache = insert_all(Model, rows)

    assert id_cache.keys() == {r.id for r in rows}
    assert all(id_cache[r.id] is r for r in rows)
    groups = expected_keys(rows)
    assert cache.keys() == groups.keys()
    for key, members in groups.items():
        assert cache[key] is min(members, key=lambda r: r.id)
    check_records(Model.cache_stats(), rows)


def populate(rows):
    """A real populate_cache() over ``rows`` (in that order), no database."""

    class Model(HasFullTableCache):
        @classmethod
        def _stream_rows(cls, _db):  # the rows populate_cache reads: ours, not a query's
            return iter(_db)

    Model.populate_cache(rows)
    return Model


@given(TABLES, st.data())
def test_populate_does_not_depend_on_the_row_order(table, data):
    rows = [Row(id, key) for id, key in table]
    shuffled = data.draw(st.permutations(rows), label="order")
    one, other = populate(rows), populate(shuffled)

    for Model, order in ((one, rows), (other, shuffled)):
        stats = Model.cache_stats()
        assert (stats.populates, stats.last_populate_rows) == (1, len(rows))
        assert (stats.cached_ids, stats.cached_keys) == (len(rows), len(expected_keys(rows)))
        check_records(stats, order)
    assert {key: obj.id for key, obj in one._cache.items()} == {key: obj.id for key, obj in other._cache.items()}
    assert {id: obj.id for id, obj in one._id_cache.items()} == {id: obj.id for id, obj in other._id_cache.items()}
    assert set(one.cache_stats().collisions) == set(other.cache_stats().collisions)


@given(TABLES, st.lists(st.integers(0, 39), max_size=30))
def test_fresher_copies_replace_their_row_and_are_recorded_once(table, picks):
    """After a populate, lookups put fresh copies of rows back (a failed merge,
    a miss): the copy replaces its row wherever the row was, and nothing is
    recorded twice."""
    if not table:
        return
    Model = fresh_model()
    rows = [Row(id, key) for id, key in table]
    cache, id_cache = insert_all(Model, rows)
    before = Model.cache_stats()

    latest = {r.id: r for r in rows}
    for pick in picks:
        row = rows[pick % len(rows)]
        copy = Row(row.id, row.key)
        latest[row.id] = copy
        Model._cache_insert(copy, cache, id_cache)

    assert id_cache == latest
    for key, members in expected_keys(rows).items():
        assert cache[key] is latest[min(r.id for r in members)]
    after = Model.cache_stats()
    assert after.collisions.keys() == before.collisions.keys()
    assert {k: sorted(v) for k, v in after.collisions.items()} == {k: sorted(v) for k, v in before.collisions.items()}
    assert after.key_errors == before.key_errors
    assert after.none_keys == before.none_keys


# Any ids (None: an object the hook created and nobody flushed yet), repeated.
ANY_ROWS = st.lists(st.tuples(st.one_of(st.none(), st.integers(1, 8)), KEYS), max_size=40)


@given(ANY_ROWS)
def test_any_sequence_of_inserts_keeps_the_caches_consistent(sequence):
    Model = fresh_model()
    rows = [Row(id, key) for id, key in sequence]
    cache, id_cache = insert_all(Model, rows)  # never raises

    latest = {}
    for r in rows:
        if r.id is not None:
            latest[r.id] = r
    assert id_cache == latest  # None is never an id
    groups = expected_keys(rows)
    assert cache.keys() == groups.keys()
    for key, members in groups.items():
        held = cache[key]
        assert any(held is r for r in members) and held.cache_key() == key
        if all(r.id is not None for r in members):
            lowest = min(r.id for r in members)
            assert held is [r for r in members if r.id == lowest][-1]
        elif members[0].id is not None:
            assert held.id is not None  # an unflushed object never displaces a row
    stats = Model.cache_stats()
    bad = {r.id for r in rows if kind(r.key) in ("raises", "unhashable")}
    assert {id for id, _ in stats.key_errors} == bad
    assert set(stats.none_keys) == {r.id for r in rows if r.key is None}


@given(ANY_ROWS)
def test_inserting_into_reset_caches_changes_nothing(sequence):
    Model = fresh_model()
    for id, key in sequence:
        Model._cache_insert(Row(id, key), Model.RESET, Model.RESET)
    assert Model._cache is Model.RESET and Model._id_cache is Model.RESET
    assert (Model.cache_stats().cached_ids, Model.cache_stats().cached_keys) == (0, 0)


# ---------------------------------------------------------------------------
# The same through the database, both backends
# ---------------------------------------------------------------------------


CODES = st.one_of(st.sampled_from(["a", "b", "c", "list:x", "raise:y"]), st.none())
DB_TABLES = st.lists(st.tuples(st.integers(1, 500), CODES), unique_by=lambda row: row[0], max_size=25)


def code_to_key(code):
    if code is None:
        return None
    if code.startswith("raise:"):
        return RAISES
    if code.startswith("list:"):
        return [code]
    return code


@pytest.fixture
def tagged(database_url):
    class Base(DeclarativeBase):
        pass

    class Tagged(HasFullTableCache, Base):
        __tablename__ = "tagged"
        id = mapped_column(BigInteger, primary_key=True, autoincrement=False)
        code = mapped_column(String(20), nullable=True)

        def cache_key(self):
            return Row(self.id, code_to_key(self.code)).cache_key()

    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    yield engine, Tagged
    engine.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=DB_TABLES)
def test_a_populate_from_the_database_keeps_the_invariants(tagged, table):
    engine, Tagged = tagged
    with engine.begin() as conn:
        conn.execute(delete(Tagged.__table__))
        if table:
            conn.execute(Tagged.__table__.insert(), [dict(id=id, code=code) for id, code in table])
    Tagged.reset_cache()
    with Session(engine) as session:
        order = []
        Tagged.populate_cache(session)
        for obj in Tagged._id_cache.values():
            order.append(Row(obj.id, code_to_key(obj.code)))

        rows = {id: Row(id, code_to_key(code)) for id, code in table}
        assert sorted(Tagged._id_cache) == sorted(rows)
        groups = expected_keys(rows.values())
        assert {key: obj.id for key, obj in Tagged._cache.items()} == {
            key: min(r.id for r in members) for key, members in groups.items()
        }
        stats = Tagged.cache_stats()
        assert stats.last_populate_rows == len(table)
        check_records(stats, order)  # in the order the database gave the rows
        for id in rows:
            assert Tagged.by_id(session, id).id == id
