"""fullcache's read-only transaction holds whatever the models' code does to
it, and what cannot be refused is reported.

tests/apps/escapers.py holds models that end the transaction with raw SQL
and turn read-write (PostgreSQL), turn ``query_only`` off or ATTACH a new
file (SQLite), or go to the raw DB-API connection (both);
tests/apps/writers.py those that write the ordinary ways. Each test runs on
SQLite and PostgreSQL, through the command line and through the library
(a URL, an Engine, a Session, ``read_only_session``).
"""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool, StaticPool

import fullcache_cli
from fullcache_cli.database import read_only_session
from tests.apps import escapers, writers
from tests.helpers import app_database, by_model, checksum, run

ESCAPERS = "tests.apps.escapers"


@pytest.fixture
def escapers_url(database_url, tmp_path):
    with app_database(escapers, database_url, folder=str(tmp_path)) as url:
        yield url


def refusable(backend: str) -> list:
    """The escapes of this backend that pass through SQLAlchemy or SQLite."""
    return escapers.POSTGRESQL if backend == "postgresql" else escapers.SQLITE


def attached_file() -> str:
    return os.path.join(escapers.CONTROL["folder"], "attached.db")


# -- refused --------------------------------------------------------------------


@pytest.mark.parametrize("how", ["command line", "engine", "read_only_session"])
def test_escapes_through_sqlalchemy_or_sqlite_are_refused(escapers_url, backend, how):
    models = refusable(backend) + [escapers.Plain]
    names = [model.__name__ for model in models]
    before = checksum(escapers_url)

    if how == "command line":
        result = run("check", *names, "--models", ESCAPERS, "--database-url", escapers_url, "--json")
        assert result.exit_code == 0, result.output
        reported = by_model(json.loads(result.stdout))
        for name in names:
            assert reported[name]["status"] == "ok", reported[name]
            assert reported[name]["cached_ids"] == 3, reported[name]
            assert reported[name]["breaches"] == [], reported[name]
    elif how == "engine":
        engine = create_engine(escapers_url)  # the application's engine, its default pool
        try:
            report = fullcache_cli.check(engine, models)
        finally:
            engine.dispose()
        assert report.ok, report.problems()
        assert {m.model: m.cached_ids for m in report.models} == {name: 3 for name in names}
    else:
        for model in models:
            with read_only_session(escapers_url) as session:
                model.populate_cache(session)
            assert len(model._id_cache) == 3

    assert escapers.attempted == names[:-1]
    assert escapers.written == []
    assert checksum(escapers_url) == before
    assert not os.path.exists(attached_file())


# -- detected -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["command line", "engine"])
def test_an_escape_through_the_driver_is_reported_and_every_other_model_still_is(escapers_url, backend, how):
    """The raw driver connection commits (and, on PostgreSQL, turns
    read-write): fullcache cannot refuse that. The model is reported as
    having escaped fullcache's transaction; check fails; the models before
    and after it are warmed and reported as usual, in a new read-only
    transaction."""
    first = refusable(backend)[0]
    names = [first.__name__, "DriverCommit", "Plain"]
    before = checksum(escapers_url)

    if how == "command line":
        result = run("check", *names, "--models", ESCAPERS, "--database-url", escapers_url, "--json")
        assert result.exit_code == 1, result.output
        document = json.loads(result.stdout)
        reported = by_model(document)
        kinds = {b["kind"] for b in reported["DriverCommit"]["breaches"]}
        clean = [reported[name] for name in (first.__name__, "Plain")]
        assert all(m["status"] == "ok" and m["cached_ids"] == 3 and not m["breaches"] for m in clean), clean
        assert {p["kind"] for p in document_problems(result)} == kinds
    else:
        engine = create_engine(escapers_url)
        try:
            report = fullcache_cli.check(engine, [first, escapers.DriverCommit, escapers.Plain])
        finally:
            engine.dispose()
        assert not report.ok
        reported = {m.model: m for m in report.models}
        kinds = {b.kind for b in reported["DriverCommit"].breaches}
        for name in (first.__name__, "Plain"):
            assert reported[name].status == "ok" and reported[name].cached_ids == 3, reported[name]
            assert reported[name].breaches == []
        assert {p.kind for p in report.problems()} == kinds

    assert "escaped_transaction" in kinds
    after = checksum(escapers_url)
    landed = after["escapers_driver_commit"] != before["escapers_driver_commit"]
    if landed:
        # What got written is never passed over in silence.
        assert backend == "postgresql" or "database_write" in kinds
    else:
        # A SQLite file fullcache opens itself is read-only to SQLite.
        assert backend == "sqlite" and how == "command line"
    del after["escapers_driver_commit"], before["escapers_driver_commit"]
    assert after == before


def document_problems(result) -> list:
    """The problems check printed, one per line of the human output's
    problems section, read back from JSON's per-model lists."""
    document = json.loads(result.stdout)
    return [b for m in document["models"] for b in m["breaches"]]


# -- a Session lent by the application ---------------------------------------------

SESSION_WRITERS = [
    writers.AddsRow,
    writers.CommitsConnection,
    writers.ReleasesSavepoints,
    writers.Mutates,
    writers.HookWriter,
    writers.Plain,
]


@pytest.mark.parametrize("flushed", [False, True], ids=["application-read", "application-flushed"])
def test_the_applications_session_commits_nothing_of_fullcaches_run(writers_url, backend, flushed):
    """The application hands its Session (in a transaction, with a pending
    object, and with or without a flushed row of its own) to check(); the
    models' code adds, flushes, commits and releases savepoints. The
    session's own later commit() persists the application's rows alone."""
    before = checksum(writers_url)
    engine = create_engine(writers_url)
    try:
        session = Session(engine)
        session.execute(select(writers.Plain.id)).all()
        if flushed:
            session.add(writers.Plain(id=501, name="flushed by the application"))
            session.flush()
        pending = writers.Plain(id=500, name="pending in the application")
        session.add(pending)
        driver = session.connection().connection.dbapi_connection
        driver_in_transaction = getattr(driver, "in_transaction", None)

        report = fullcache_cli.check(session, SESSION_WRITERS)

        assert {m.model: m.cached_ids for m in report.models}["Plain"] == 3 + flushed
        assert set(session.new) == {pending}
        assert session.in_transaction()
        assert getattr(driver, "in_transaction", None) == driver_in_transaction
        session.commit()
        session.close()
    finally:
        engine.dispose()

    after = checksum(writers_url)
    assert after["writers_plain"][0] == before["writers_plain"][0] + 1 + flushed
    del after["writers_plain"], before["writers_plain"]
    assert after == before, f"written: {writers.written}"


def test_a_model_that_undoes_fullcaches_savepoint_on_a_lent_session_is_reported_and_nothing_stays(
    escapers_url, backend
):
    """Past the defences, on the application's own connection: the model's
    row is rolled back with fullcache's savepoint, the application's rows
    and transaction are kept, and the model is reported."""
    before = checksum(escapers_url)
    engine = create_engine(escapers_url)
    try:
        session = Session(engine)
        session.add(escapers.Plain(id=501, name="flushed by the application"))
        session.flush()
        pending = escapers.Plain(id=500, name="pending in the application")
        session.add(pending)

        report = fullcache_cli.check(session, [escapers.UndoesSavepoint, escapers.Plain])

        reported = {m.model: m for m in report.models}
        kinds = {b.kind for b in reported["UndoesSavepoint"].breaches}
        assert kinds == ({"escaped_transaction"} if backend == "postgresql" else {"database_write"})
        assert escapers.written == ["UndoesSavepoint"]  # it did get past the defences
        assert reported["Plain"].breaches == [] and reported["Plain"].cached_ids == 4
        assert set(session.new) == {pending} and session.in_transaction()
        session.commit()
        session.close()
    finally:
        engine.dispose()
    after = checksum(escapers_url)
    assert after["escapers_plain"][0] == before["escapers_plain"][0] + 2
    del after["escapers_plain"], before["escapers_plain"]
    assert after == before


def test_an_engine_on_one_static_connection_to_a_file_writes_nothing(writers_url, backend):
    """StaticPool keeps one connection for everything: fullcache reads
    through a pool of its own on the same database, read-only."""
    before = checksum(writers_url)
    engine = create_engine(writers_url, poolclass=StaticPool)
    try:
        report = fullcache_cli.check(engine, writers.MODELS)
        assert {m.model: m.cached_ids for m in report.models}["Plain"] == 3
    finally:
        engine.dispose()
    assert writers.written == []
    assert checksum(writers_url) == before


def test_a_database_in_memory_is_borrowed_and_left_as_it_was():
    """A SQLite database in memory lives in the application's one connection:
    fullcache borrows it, and nothing the models' code does stays."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    writers.fill(engine)
    writers.attempted.clear()
    writers.written.clear()
    try:
        before = checksum(engine)
        report = fullcache_cli.check(engine, SESSION_WRITERS)
        assert {m.model: m.cached_ids for m in report.models}["Plain"] == 3
        assert checksum(engine) == before, f"written: {writers.written}"
        with engine.begin() as connection:  # still the application's, writable
            connection.execute(text("INSERT INTO writers_plain (id, name) VALUES (900, 'the application')"))
        assert checksum(engine)["writers_plain"][0] == before["writers_plain"][0] + 1
    finally:
        for model in writers.MODELS:
            model.reset_cache()
        engine.dispose()


# -- what the database itself would refuse ---------------------------------------

READER = "fullcache_reader"


def test_check_tells_whether_its_role_may_write_to_the_cached_tables(postgres_password_url, postgres_admin_url):
    """Information, not a problem: check passes either way, and says when
    the role could write (a read-only role is the enforced guarantee)."""
    from sqlalchemy.engine import make_url

    engine = create_engine(postgres_password_url, poolclass=NullPool)
    writers.fill(engine)
    engine.dispose()
    names = ["Plain", "AddsRow"]

    owner = run("check", *names, "--models", "tests.apps.writers", "--database-url", postgres_password_url)
    owner_json = json.loads(
        run("check", *names, "--models", "tests.apps.writers", "--database-url", postgres_password_url, "--json").stdout
    )

    admin = create_engine(postgres_admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    database = make_url(postgres_password_url).database
    with admin.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READER}).first():
            connection.exec_driver_sql(f"CREATE ROLE {READER} LOGIN PASSWORD 'r3ader-pw'")
    admin.dispose()
    grants = create_engine(postgres_password_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with grants.connect() as connection:
        connection.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {READER}')
        connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {READER}")
        connection.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}")
    grants.dispose()
    reader_url = make_url(postgres_password_url).set(username=READER, password="r3ader-pw")
    reader_url = reader_url.render_as_string(hide_password=False)
    reader = run("check", *names, "--models", "tests.apps.writers", "--database-url", reader_url)
    reader_json = json.loads(
        run("check", *names, "--models", "tests.apps.writers", "--database-url", reader_url, "--json").stdout
    )
    try:
        assert owner.exit_code == 0 and reader.exit_code == 0, owner.output + reader.output
        assert owner_json["role"] == "fullcache_pw"
        assert owner_json["role_can_write"] == ["writers_plain", "writers_adds_row"]
        assert "Note: role fullcache_pw may write to 2 cached tables (writers_plain, writers_adds_row)" in owner.stdout
        assert reader_json["role"] == READER
        assert reader_json["role_can_write"] == []
        assert "may write" not in reader.stdout
    finally:
        with create_engine(postgres_password_url, poolclass=NullPool, isolation_level="AUTOCOMMIT").connect() as c:
            c.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {READER}")
            c.exec_driver_sql(f"REVOKE ALL ON SCHEMA public FROM {READER}")
            c.exec_driver_sql(f'REVOKE ALL ON DATABASE "{database}" FROM {READER}')
        for model in writers.MODELS:
            model.reset_cache()


def test_on_sqlite_there_is_no_role_to_tell_of(tmp_path):
    url = f"sqlite:///{tmp_path / 'writers.sqlite'}"
    engine = create_engine(url, poolclass=NullPool)
    writers.fill(engine)
    engine.dispose()
    result = run("check", "Plain", "--models", "tests.apps.writers", "--database-url", url, "--json")
    writers.Plain.reset_cache()
    document = json.loads(result.stdout)
    assert document["role"] is None and document["role_can_write"] is None


# -- which statements are refused ------------------------------------------------


@pytest.mark.parametrize("statement", [
    "COMMIT",
    "  commit;",
    "END",
    "ROLLBACK",
    "ROLLBACK TO SAVEPOINT fullcache_model",
    "RELEASE SAVEPOINT fullcache_outer",
    "SAVEPOINT mine",
    "BEGIN READ WRITE",
    "START TRANSACTION READ WRITE",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SET TRANSACTION READ WRITE",
    "SET default_transaction_read_only = off",
    "set session default_transaction_read_only to off",
    "SET transaction_read_only = off",
    "RESET ALL",
    "SET ROLE admin",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT 1; COMMIT",
    "-- a comment\nCOMMIT",
    "/* a comment */ COMMIT",
    "PREPARE TRANSACTION 'x'",
])
def test_statements_that_end_or_loosen_the_transaction_are_recognised(statement):
    from fullcache_cli.guards import escaping_statement

    assert escaping_statement(statement)


@pytest.mark.parametrize("statement", [
    "SELECT * FROM genres",
    "SELECT begin_date, end_date, commit_sha FROM releases",
    "SET search_path TO app",
    "SET LOCAL statement_timeout = 1000",
    "SHOW transaction_read_only",
    "PRAGMA table_info(genres)",
    "WITH t AS (SELECT 1) SELECT * FROM t",
])
def test_ordinary_statements_pass(statement):
    from fullcache_cli.guards import escaping_statement

    assert not escaping_statement(statement)
