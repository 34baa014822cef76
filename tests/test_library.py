"""The Python API as README shows it: check() and report.problems(),
inspect_model() and lookup() by name with a models module, an application's
Engine (its pool's connect arguments and listeners kept, SQLite in memory
used as is), and passwords kept out of the library's own reports."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

import fullcache_cli
from fullcache_cli.errors import UsageError
from tests.apps import faulty, planted, probes, writers
from tests.helpers import app_database

SECRET = "Zq9-unlikely-Secret"


def test_check_and_its_problems(planted_url):
    report = fullcache_cli.check(planted_url, planted, ["FcGenre", "FcLabel", "FcTag"], allow=["none_key"])
    assert not report.ok
    # In the order of the kinds (key errors before collisions); none_key allowed.
    assert [(p.model, p.kind, p.ids, p.key, p.error) for p in report.problems()] == [
        ("FcTag", "key_error", [2], None, "TypeError: unhashable type: 'list'"),
        ("FcGenre", "collision", [1, 3], "Fiction", None),
    ]
    assert report.problems()[1].to_json() == {
        "model": "FcGenre", "kind": "collision", "ids": [1, 3], "key": "Fiction", "error": None,
        "allowed": False, "known": False,
    }
    assert report.to_json()["problems"] == 2
    assert [p.kind for p in fullcache_cli.check(planted_url, planted, ["FcLabel"]).problems()] == ["none_key"]
    assert fullcache_cli.check(planted_url, planted, ["FcGenre", "FcTag"], allow=["collision", "key_error"]).ok


def test_inspect_model_and_lookup_by_name_with_a_module(planted_url):
    inspected = fullcache_cli.inspect_model(planted_url, "FcGenre", planted, limit=2)
    assert (inspected.model.model, inspected.model.rows, inspected.model.cached_keys) == ("FcGenre", 4, 3)
    assert [(c.key, c.ids, c.kept_id) for c in inspected.model.collisions] == [("Fiction", [1, 3], 1)]
    assert [(e.key, e.id) for e in inspected.entries] == [("Fiction", 1), ("Poetry", 2)]
    assert inspected.to_json()["schema"] == "fullcache.inspect/1"

    found = fullcache_cli.lookup(planted_url, "FcGenre", "Fiction", planted, repeat=3)
    assert (found.found, found.source, found.id, found.shadows) == (True, "cache", 1, [3])
    assert found.values == {"id": 1, "name": "Fiction"}
    by_id = fullcache_cli.lookup(planted_url, "FcFormat", "2", planted, by_id=True, repeat=3)
    assert (by_id.found, by_id.id, by_id.values["name"]) == (True, 2, "pdf")

    with pytest.raises(UsageError, match="unknown model 'FcGenres': did you mean 'FcGenre'?"):
        fullcache_cli.inspect_model(planted_url, "FcGenres", planted)


def _app_connection_probe(backend: str):
    """Connect arguments an application's engine might carry, and a way to
    read them back from a DBAPI connection."""
    if backend == "sqlite":
        class AppConnection(sqlite3.Connection):
            pass

        return {"factory": AppConnection}, lambda dbapi: type(dbapi).__name__, "AppConnection"
    return ({"application_name": "fullcache-test-app"},
            lambda dbapi: dbapi.get_dsn_parameters().get("application_name"), "fullcache-test-app")


def test_an_applications_engine_lends_its_connect_arguments_and_pool_listeners(probes_url, backend):
    connect_args, read_back, expected = _app_connection_probe(backend)
    engine = create_engine(probes_url, connect_args=connect_args)
    seen = []
    event.listen(engine, "connect", lambda dbapi, record: seen.append(read_back(dbapi)))
    try:
        report = fullcache_cli.warm(engine, [probes.Settings])
        assert report.ok and report.models[0].cached_ids == 3
        # fullcache's own pool: it connected through the application's
        # listener and arguments (its connect timeout too: SQLite's default
        # 5 s, none for psycopg2), read-only, and left the application's pool alone.
        assert seen and set(seen) == {expected}
        assert probes.CONTROL["settings"] == (
            {"busy_timeout_ms": 5000, "query_only": 1} if backend == "sqlite"
            else {"connect_timeout": None, "isolation": "repeatable read", "read_only": "on"})
        assert engine.pool.checkedin() == 0 and engine.pool.checkedout() == 0
    finally:
        engine.dispose()


def _in_memory_writers(poolclass):
    engine = create_engine("sqlite://", **({"poolclass": poolclass} if poolclass else {}))
    writers.fill(engine)
    writers.attempted.clear()
    writers.written.clear()
    return engine


@pytest.mark.parametrize("poolclass", [None, StaticPool])
def test_an_sqlite_database_in_memory_is_read_through_the_applications_engine(poolclass):
    """A new pool would open another, empty database: the application's
    engine is used as it is."""
    engine = _in_memory_writers(poolclass)
    try:
        report = fullcache_cli.warm(engine, [writers.Plain])
        assert [(m.model, m.status, m.rows, m.cached_ids) for m in report.models] == [("Plain", "ok", 3, 3)]
    finally:
        writers.Plain.reset_cache()
        engine.dispose()


@pytest.mark.parametrize("poolclass", [None, StaticPool])
def test_the_rollback_undoes_what_a_model_writes_in_an_sqlite_database_in_memory(poolclass):
    """The application's engine is borrowed, not made read-only for good:
    while fullcache works, its connection refuses writes, and fullcache's
    savepoint is rolled back whatever the model's code released."""
    engine = _in_memory_writers(poolclass)
    try:
        report = fullcache_cli.warm(engine, [writers.AddsRow])
        assert [(m.model, m.status, m.rows, m.cached_ids) for m in report.models] == [("AddsRow", "ok", 3, 3)]
        assert writers.attempted == ["add, flush, commit"] and writers.written == []
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM writers_adds_row")).scalar() == 3
    finally:
        writers.AddsRow.reset_cache()
        engine.dispose()


@pytest.mark.filterwarnings("ignore:Query string argument", "ignore:falling back from")
def test_the_librarys_reports_never_hold_the_password(database_url, backend, request):
    """report.database and the models' messages, as the library returns them
    (the command line masks its output a second time)."""
    if backend == "sqlite":
        url = f"{database_url}?password={SECRET}"
        masked = f"{database_url}?password=***"
        secret = SECRET
    else:
        url = request.getfixturevalue("postgres_password_url")
        secret = make_url(url).password
        masked = make_url(url).render_as_string(hide_password=True)
    with app_database(faulty, url, secret_url=url):
        report = fullcache_cli.warm(url, faulty, ["Leaky", "KeyLeaky"])
        document = report.to_json()
        assert "***" in masked and document["database"] == masked
        leaky, key_leaky = report.models
        assert leaky.populate_error == f"RuntimeError: cannot reach {masked}"
        assert [e.error for e in key_leaky.key_errors] == [f"ValueError: no key without {masked}"] * 3
        inspected = fullcache_cli.inspect_model(url, "Leaky", faulty).to_json()
        found = fullcache_cli.lookup(url, "First", "First-1", faulty, repeat=1).to_json()
        assert inspected["database"] == found["database"] == masked
        for text_ in (str(document), str(inspected), str(found)):
            assert secret not in text_ and quote(secret, safe="") not in text_
