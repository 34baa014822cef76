"""What warm observes, where the answer depends on how the database returns
rows or on what happens around the warm: the collision rule when the higher
id is read first, one None key, the lookup sample caps, a lookup that fails,
one snapshot for COUNT and populate, the settings of fullcache's connection.
On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

import fullcache_cli
from fullcache_cli import lookup_timing
from tests.apps import planted, probes
from tests.helpers import PLANTED, by_model, planted_table, run, run_json

PROBES = "tests.apps.probes"
GENRES = [(1, "Fiction"), (2, "Poetry"), (3, "Fiction"), (4, "Drama")]


def _engine(url: str) -> Engine:
    return create_engine(url, poolclass=NullPool)


@pytest.fixture
def reordered_genres_url(database_url, backend):
    """The planted genres (Fiction on rows 1 and 3), stored so that a plain
    SELECT returns row 3 before row 1. SQLite: a table WITHOUT ROWID whose
    primary key descends. PostgreSQL: row 1 updated after the others were
    written, which moves it to the end of the heap."""
    engine = _engine(database_url)
    with engine.begin() as connection:
        for model in (planted.FcGenre, planted.SeedGenre):
            table = model.__tablename__
            if backend == "sqlite":
                connection.exec_driver_sql(
                    f"CREATE TABLE {table} (id INTEGER NOT NULL, name VARCHAR(50), PRIMARY KEY (id DESC)) WITHOUT ROWID")
            else:
                model.__table__.create(connection)
            connection.execute(model.__table__.insert(), [dict(id=i, name=n) for i, n in GENRES])
            if backend == "postgresql":
                connection.execute(text(f"UPDATE {table} SET name = name WHERE id = 1"))
    with engine.connect() as connection:
        for model in (planted.FcGenre, planted.SeedGenre):
            order = list(connection.execute(text(f"SELECT id FROM {model.__tablename__}")).scalars())
            assert order.index(3) < order.index(1), order  # what this fixture promises
    engine.dispose()
    yield database_url
    planted.reset_all()


# -- the collision rule, when the higher id is read first -------------------------


def test_the_lowest_id_keeps_a_colliding_key_when_the_higher_is_read_first(reordered_genres_url):
    args = ("--models", PLANTED, "--database-url", reordered_genres_url)
    code, document = run_json("warm", "FcGenre", "SeedGenre", *args)
    assert code == 0
    models = by_model(document)
    # fullcache keeps the lowest id; the seed the last row read (row 1 here).
    assert models["FcGenre"]["collisions"] == [{"key": "Fiction", "ids": [1, 3], "kept_id": 1, "differs": {}}]
    assert models["SeedGenre"]["collisions"] == [{"key": "Fiction", "ids": [1, 3], "kept_id": 1, "differs": {}}]
    assert planted.FcGenre._cache["Fiction"].id == 1
    assert planted.FcGenre.cache_stats().collisions == {"Fiction": (3, 1)}

    found = run("lookup", "FcGenre", "Fiction", "--repeat", "3", *args)
    assert found.exit_code == 0
    assert "found in cache, id 1" in found.stdout and "this key shadows rows 3" in found.stdout
    inspected = run("inspect", "FcGenre", *args)
    assert "key Fiction  ids 1, 3  kept 1" in inspected.stdout


# -- None keys ----------------------------------------------------------------------


@pytest.mark.parametrize("model", [planted.FcLabel, planted.SeedLabel])
def test_a_single_none_key_is_recorded_and_is_no_problem(database_url, model):
    url = planted_table(database_url, model, [dict(id=1, name=None), dict(id=2, name="a"), dict(id=3, name="b")])
    args = (model.__name__, "--models", PLANTED, "--database-url", url)
    code, document = run_json("check", *args)
    assert code == 0
    (report,) = document["models"]
    assert report["none_keys"] == [1]
    assert (document["problems"], document["ok"]) == (0, True)
    assert "no problems" in run("check", *args).stdout
    assert "None keys (1)" in run("inspect", *args).stdout
    planted.reset_all()


# -- lookup samples -------------------------------------------------------------------


@pytest.fixture
def primary_key_queries():
    """Counts the statements that fetch one fc_formats row by primary key."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "FROM fc_formats" in statement and "WHERE fc_formats.id =" in statement:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    yield seen
    event.remove(Engine, "before_cursor_execute", count)


@pytest.mark.parametrize("rows, samples, queries", [(300, 200, 50), (30, 30, 30)])
def test_lookups_are_timed_on_up_to_200_ids_and_50_queries(database_url, primary_key_queries, rows, samples,
                                                           queries, monkeypatch):
    # The caps, not the time budget, must bound the series here: a budget
    # no busy machine reaches.
    monkeypatch.setattr(lookup_timing, "LOOKUP_SECONDS", 600.0)
    url = planted_table(database_url, planted.FcFormat, [dict(id=n, name=f"format {n}") for n in range(1, rows + 1)])
    calls = []
    by_id = planted.FcFormat.by_id.__func__

    def counted(cls, _db, id):
        calls.append(id)
        return by_id(cls, _db, id)

    planted.FcFormat.by_id = classmethod(counted)
    try:
        report = fullcache_cli.warm(url, [planted.FcFormat])
    finally:
        del planted.FcFormat.by_id
        planted.reset_all()
    (model,) = report.models
    assert model.lookups.samples == samples
    # Each sampled id three times: a first lookup from a new session of its
    # own, then from one more session a lookup (that may merge) and the timed hit.
    assert model.lookups.first_hit_samples == samples
    assert len(calls) == 3 * samples and len(set(calls)) == samples
    assert len(primary_key_queries) == queries
    assert model.lookups.db_p50_us is not None


# -- a lookup that fails ---------------------------------------------------------------


def test_a_failing_lookup_is_a_lookup_error(probes_url):
    args = ("LookupFails", "--models", PROBES, "--database-url", probes_url)
    code, document = run_json("warm", *args)
    assert code == 0
    (model,) = document["models"]
    assert model["lookup_error"] == "RuntimeError: no lookup of LookupFails 1 today"
    assert (model["status"], model["lookups"], model["cached_ids"]) == ("ok", None, 3)
    assert document["problems"] == 1
    result = run("check", *args)
    assert result.exit_code == 1
    assert "LookupFails  lookup_error  RuntimeError: no lookup of LookupFails 1 today" in result.stdout
    assert run("check", "--allow", "lookup_error", *args).exit_code == 0


# -- one snapshot ------------------------------------------------------------------------


def test_count_and_populate_read_one_snapshot(probes_url, backend):
    """A row another client commits between warm's COUNT and its populate is
    in neither (PostgreSQL: REPEATABLE READ; SQLite: one read transaction, in
    WAL mode so that the other client may write meanwhile)."""
    if backend == "sqlite":
        engine = _engine(probes_url)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode = WAL").scalar() == "wal"
        engine.dispose()
    code, document = run_json("warm", "Grows", "--models", PROBES, "--database-url", probes_url)
    assert code == 0
    (model,) = document["models"]
    assert (model["rows"], model["cached_ids"], model["cached_keys"], model["populate_error"]) == (3, 3, 3, None)
    engine = _engine(probes_url)
    with engine.connect() as connection:  # the other client's row did land
        assert connection.execute(text("SELECT count(*) FROM probes_grows")).scalar() == 4
    engine.dispose()


# -- the connection fullcache gives the models' code -------------------------------------


@pytest.mark.parametrize("options, sqlite_ms, postgresql_seconds", [([], 10000, "10"),
                                                                     (["--connect-timeout", "2.5"], 2500, "3")])
def test_connection_settings_and_the_connect_timeout_default(probes_url, backend, options, sqlite_ms,
                                                             postgresql_seconds):
    result = run("warm", "Settings", "--models", PROBES, "--database-url", probes_url, *options)
    assert result.exit_code == 0, result.output
    if backend == "sqlite":
        assert probes.CONTROL["settings"] == {"busy_timeout_ms": sqlite_ms, "query_only": 1}
    else:
        assert probes.CONTROL["settings"] == {
            "connect_timeout": postgresql_seconds, "isolation": "repeatable read", "read_only": "on",
        }
