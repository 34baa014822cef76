"""fullcache never writes, whatever the application's code does.

tests/apps/writers.py holds models whose populate_cache adds a row, flushes
and commits, commits the session's connection and writes through it, opens
new connections (in a transaction, in autocommit mode) from the session's
engine and inserts, whose cache_key() changes the object in place, and whose
lookup hook inserts and commits. After each command a checksum of every table
of the database is what it was before.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import InternalError, PendingRollbackError
from sqlalchemy.pool import NullPool

import sample_models
from fullcache_cli.database import read_only_session
from tests.apps import writers
from tests.helpers import checksum, invoke

WRITERS = "tests.apps.writers"

EVERY_WRITE = {
    "add, flush, commit",
    "connection commit, insert, commit",
    "release savepoint, insert",
    "engine.connect(), insert, commit",
    "autocommit engine.connect(), insert",
    "engine.begin(), insert",
    "cache_key changes the object",
    "lookup hook: add, flush, connection commit",
}

IN_FAILED_TRANSACTION = "InFailedSqlTransaction: current transaction is aborted, commands ignored until end of transaction block"


@pytest.mark.parametrize("command", ["warm", "check"])
def test_writing_models_leave_every_table_unchanged(writers_url, backend, command):
    before = checksum(writers_url)
    assert before["writers_plain"][0] == 3

    result = invoke(command, "--models", WRITERS, "--database-url", writers_url, "--json")

    assert "Traceback" not in result.output, result.output
    assert "unexpected" not in result.output, result.output
    # warm could read every model but, on PostgreSQL, the one that ended the
    # transaction (its rows cannot be read again); check found the problems below.
    assert result.exit_code == (0 if command == "warm" and backend == "sqlite" else 1), result.output
    assert set(writers.attempted) == EVERY_WRITE
    assert checksum(writers_url) == before, f"written: {writers.written}"
    assert writers.written == []
    models = {m["model"]: m for m in json.loads(result.stdout)["models"]}
    # A populate that recovers from its refused write warms in full; so does
    # the one whose commit of the connection was refused, and every model
    # after them.
    for name in ("AddsRow", "CommitsConnection", "EngineWriter", "Mutates", "HookWriter", "Plain"):
        assert models[name]["status"] == "ok", models[name]
        assert models[name]["cached_ids"] == 3, models[name]
    # What the refused writes leave behind, and nothing else.
    assert [f["id"] for f in models["Mutates"]["merge_failures"]] == [1, 2, 3]
    assert [name for name, m in models.items() if m["lookup_error"]] == ["HookWriter"]
    assert models["HookWriter"]["lookup_error"].startswith(
        "PendingRollbackError: This Session's transaction has been rolled back")
    failed_populates = {name: m["populate_error"] for name, m in models.items() if m["populate_error"]}
    assert failed_populates == ({} if backend == "sqlite" else {"ReleasesSavepoints": IN_FAILED_TRANSACTION})
    unread = {name: m["error"] for name, m in models.items() if m["status"] != "ok"}
    assert unread == ({} if backend == "sqlite" else {
        "ReleasesSavepoints": f"rows that populate did not load cannot be read: {IN_FAILED_TRANSACTION}"})


def test_writing_models_leave_every_table_unchanged_through_the_library(writers_url, backend):
    """The same through read_only_session, as an application would call
    populate_cache at start-up."""
    before = checksum(writers_url)
    raised = {}
    for model in writers.MODELS:
        with read_only_session(writers_url) as session:
            try:
                model.populate_cache(session)
                assert model.by_id(session, 1).id == 1
            except (PendingRollbackError, InternalError) as error:
                raised[model.__name__] = type(error).__name__
    # The database refused the write; the model's code goes on in the failed
    # transaction it swallowed, and only there does it raise.
    expected = {"HookWriter": "PendingRollbackError"}
    if backend == "postgresql":
        expected["ReleasesSavepoints"] = "InternalError"
    assert raised == expected
    assert set(writers.attempted) == EVERY_WRITE
    assert checksum(writers_url) == before, f"written: {writers.written}"
    assert writers.written == []


def test_check_of_the_sample_changes_nothing(database_url):
    engine = create_engine(database_url, poolclass=NullPool)
    sample_models.create_sample(engine, libraries=5)
    engine.dispose()
    before = checksum(database_url)

    result = invoke("check", "--models", "sample_models", "--database-url", database_url)

    assert result.exit_code == 0, result.output
    assert checksum(database_url) == before


def test_inspect_lookup_and_models_of_writing_models_leave_every_table_unchanged(writers_url, backend):
    before = checksum(writers_url)
    runs = [["models"]] + [["inspect", model.__name__] for model in writers.MODELS]
    runs += [["lookup", model.__name__, f"{model.__name__}-1"] for model in writers.MODELS]
    runs += [
        ["lookup", "HookWriter", "no such key"],  # a miss: the lookup hook runs, and writes
        ["lookup", "HookWriter", "2", "--id"],
        ["lookup", "EngineWriter", "3", "--id"],
    ]
    # Lookups that find nothing (exit 1): Mutates' cache_key() changed every
    # key; the hook of HookWriter fails in the transaction its refused write
    # spoiled; on PostgreSQL, ReleasesSavepoints' populate fails the same way
    # (and its rows cannot be read again: inspect exits 1 too).
    not_found = {("lookup", "Mutates", "Mutates-1"): 1, ("lookup", "HookWriter", "no such key"): 1,
                 ("lookup", "HookWriter", "2", "--id"): 1}
    if backend == "postgresql":
        not_found[("lookup", "ReleasesSavepoints", "ReleasesSavepoints-1")] = 1
        not_found[("inspect", "ReleasesSavepoints")] = 1
    unreadable = {("lookup", "ReleasesSavepoints", "ReleasesSavepoints-1")} if backend == "postgresql" else set()
    for run in runs:
        for model in writers.MODELS:
            model.reset_cache()
        result = invoke(*run, "--models", WRITERS, "--database-url", writers_url)
        assert "Traceback" not in result.output, (run, result.output)
        assert "unexpected" not in result.output, (run, result.output)
        if tuple(run) in unreadable:
            assert result.stderr.startswith("Error: ReleasesSavepoints cannot be looked up: rows that populate did "
                                            f"not load cannot be read: {IN_FAILED_TRANSACTION}"), result.stderr
        else:
            assert result.stderr == "", (run, result.stderr)
        assert result.exit_code == not_found.get(tuple(run), 0), (run, result.output)
    assert set(writers.attempted) == EVERY_WRITE
    assert checksum(writers_url) == before, f"written: {writers.written}"
    assert writers.written == []


def test_warm_through_the_applications_engine_writes_nothing_and_leaves_it_writable(writers_url):
    """An application hands its own Engine to fullcache_cli.warm(): the
    models' writes are refused, and the application's connections are
    not made read-only by it."""
    import fullcache_cli

    before = checksum(writers_url)
    engine = create_engine(writers_url)  # the application's engine, its default pool
    try:
        with engine.connect() as connection:  # a pooled connection, reused below
            connection.execute(text("SELECT 1"))
        report = fullcache_cli.warm(engine, writers)
        assert set(writers.attempted) == EVERY_WRITE
        assert writers.written == []
        assert checksum(writers_url) == before
        assert {m.model: m.cached_ids for m in report.models}["Plain"] == 3

        with engine.begin() as connection:
            connection.execute(text("INSERT INTO writers_plain (id, name) VALUES (900, 'the application writes')"))
        assert checksum(writers_url)["writers_plain"][0] == before["writers_plain"][0] + 1
    finally:
        engine.dispose()


def test_verify_of_writing_models_leaves_every_table_unchanged(writers_url):
    """verify warms (the populates try to write), then compares; through the
    library, models whose caches are reset are populated again: nothing lands."""
    import fullcache_cli

    before = checksum(writers_url)
    result = invoke("verify", "--models", WRITERS, "--database-url", writers_url, "--json")
    assert "Traceback" not in result.output and "unexpected" not in result.output, result.output
    assert result.exit_code in (0, 1), result.output
    for model in writers.MODELS:
        model.reset_cache()
    report = fullcache_cli.verify(writers_url, writers)
    assert [m.populated for m in report.models] == [True] * len(writers.MODELS)
    assert {"add, flush, commit", "engine.begin(), insert", "cache_key changes the object"} <= set(writers.attempted)
    assert checksum(writers_url) == before, f"written: {writers.written}"
    assert writers.written == []
