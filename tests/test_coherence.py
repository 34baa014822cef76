"""Coherence across processes, on real databases with separate OS processes.

Each reader is a process of its own (tests/apps/coherence_reader.py) that
keeps tests.apps.coherent's models coherent; this test process writes, as
psql or another application would. Waits are bounded ("until the reader
sees it, at most N seconds"), never a sleep that hopes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fullcache_cli.coherence_admin import install
from fullcache_cli.loading import cached_model
from fullcache_cli.runtime.coherence import capture
from tests.apps import coherent
from tests.helpers import runs_alone

ROOT = Path(__file__).resolve().parent.parent
MODELS = [cached_model(coherent.Genre), cached_model(coherent.SeedGenre)]
WAIT = 15.0  # the longest any bounded wait may take on a loaded machine


class Reader:
    """A reader process, driven by JSON lines."""

    def __init__(self, url: str, **options) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.apps.coherence_reader", url, json.dumps(options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        self.pid = json.loads(self.process.stdout.readline())["pid"]
        assert self.call("ready", timeout=WAIT)["ready"]

    def call(self, op: str, **arguments):
        self.process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        assert "error" not in reply, reply["error"]
        return reply

    def sees(self, name, id=1, model="Genre") -> dict:
        reply = self.call("until", model=model, id=id, name=name, timeout=WAIT)
        assert reply["ok"], reply
        return reply

    def status(self) -> dict:
        return self.call("status")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(WAIT)


@pytest.fixture
def pg_url(postgres_server):
    name = postgres_server.create_database()
    url = postgres_server.url(name).render_as_string(hide_password=False)
    coherent.fill(url)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def installed_url(pg_url):
    install(pg_url, MODELS)
    return pg_url


@pytest.fixture
def readers():
    started = []

    def start(url, **options):
        options.setdefault("heartbeat", 1.0)
        reader = Reader(url, **options)
        started.append(reader)
        return reader

    yield start
    for reader in started:
        reader.close()


def writer(url: str):
    """A raw psycopg2 connection in autocommit: psql, as far as the
    database can tell."""
    parsed = make_url(url)
    connection = psycopg2.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database)
    connection.autocommit = True
    return connection


def sql(connection, statement: str, *parameters) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, parameters or None)


# -- capture ------------------------------------------------------------------


def _catalog(connection) -> list:
    """Every fullcache object with the transaction that last wrote it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'n', xmin::text, oid::text FROM pg_namespace WHERE nspname = 'fullcache' "
            "UNION ALL SELECT 'c', xmin::text, oid::text FROM pg_class WHERE relnamespace = to_regnamespace('fullcache') "
            "UNION ALL SELECT 'p', xmin::text, oid::text FROM pg_proc WHERE pronamespace = to_regnamespace('fullcache') "
            "UNION ALL SELECT 't', xmin::text, oid::text FROM pg_trigger WHERE tgname = 'fullcache_capture' "
            "ORDER BY 1, 3")
        return cursor.fetchall()


def test_install_twice_changes_nothing_and_uninstall_removes_everything(pg_url):
    from fullcache_cli.coherence_admin import uninstall

    first = install(pg_url, MODELS)
    assert "trigger fullcache_capture on coh_genres" in first.created
    connection = writer(pg_url)
    before = _catalog(connection)
    assert [kind for kind, _, _ in before] == ["c", "c", "c", "n", "p", "p", "t", "t"]  # the log, its key and sequence
    second = install(pg_url, MODELS)
    assert second.created == []
    assert _catalog(connection) == before
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = 'fullcache_capture'")
        assert {row[0] for row in cursor.fetchall()} == {"A"}  # ENABLE ALWAYS
    removed = uninstall(pg_url)
    assert "schema fullcache" in removed.removed
    assert _catalog(connection) == []
    connection.close()


def test_sql_printed_for_a_migration_installs_the_same_objects(pg_url):
    printed = install(pg_url, MODELS, sql_only=True)
    connection = writer(pg_url)
    assert _catalog(connection) == []  # --sql runs nothing
    sql(connection, printed.sql)  # as a migration tool would run it, in one go
    assert len(_catalog(connection)) == 8
    sql(connection, printed.sql)
    connection.close()


def test_one_log_row_per_table_and_transaction_and_compaction_keeps_generations(installed_url):
    connection = writer(installed_url)
    sql(connection, "BEGIN; UPDATE coh_genres SET name = name; INSERT INTO coh_genres VALUES (10, 'x'); "
                    "DELETE FROM coh_genres WHERE id = 10; COMMIT")
    with connection.cursor() as cursor:
        assert capture.postgresql_generations(cursor) == {"public.coh_genres": 1}
        # Far enough in the log for a compaction, which must not change a sum.
        cursor.execute(f"SELECT setval('fullcache.changes_id_seq', {capture.COMPACT_EVERY - 2})")
    for _ in range(3):
        sql(connection, "UPDATE coh_genres SET name = name")
    with connection.cursor() as cursor:
        assert capture.postgresql_generations(cursor) == {"public.coh_genres": 4}
        cursor.execute("SELECT count(*) FROM fullcache.changes")
        assert cursor.fetchone()[0] == 3  # the first two folded into one, then 1000 and 1002
    connection.close()


# -- the listener ------------------------------------------------------------------


def test_every_kind_of_write_from_another_process_invalidates(installed_url, readers):
    reader = readers(installed_url)
    reader.sees("g1")
    reader.sees("g1", model="SeedGenre")  # an application's own copy of the mixin
    connection = writer(installed_url)
    sql(connection, "UPDATE coh_genres SET name = 'raw' WHERE id = 1")
    reader.sees("raw")
    sql(connection, "UPDATE coh_genres SET name = 'bulk-' || id")
    reader.sees("bulk-1")
    reader.sees("bulk-3", id=3)
    sql(connection, "UPDATE coh_seed_genres SET name = 'seed' WHERE id = 1")
    reader.sees("seed", model="SeedGenre")
    sql(connection, "TRUNCATE coh_genres")
    reader.sees(None)
    with connection.cursor() as cursor:
        import io

        cursor.copy_expert("COPY coh_genres (id, name) FROM STDIN", io.StringIO("1\tcopied\n"))
    reader.sees("copied")
    sql(connection, "INSERT INTO coh_genres VALUES (7, 'inserted')")
    reader.sees("inserted", id=7)
    sql(connection, "DELETE FROM coh_genres WHERE id = 7")
    reader.sees(None, id=7)
    connection.close()


def test_rollbacks_and_rolled_back_savepoints_signal_nothing(installed_url, readers):
    reader = readers(installed_url)
    reader.sees("g1")
    reader.sees("g1", model="SeedGenre")
    before = reader.status()
    connection = writer(installed_url)
    sql(connection, "BEGIN; UPDATE coh_genres SET name = 'rolled back'; ROLLBACK")
    sql(connection, "BEGIN; SAVEPOINT s; UPDATE coh_genres SET name = 'savepoint'; ROLLBACK TO SAVEPOINT s; "
                    "UPDATE coh_seed_genres SET name = 'sentinel' WHERE id = 1; COMMIT")
    # Notifications arrive in commit order: once the sentinel is seen,
    # anything the rollbacks had sent would have been seen too.
    reader.sees("sentinel", model="SeedGenre")
    after = reader.status()
    assert after["notifications"] == before["notifications"] + 1
    assert after["last_notification"]["table"] == "public.coh_seed_genres"
    assert reader.call("lookup")["populates"] == reader.sees("g1")["populates"] == 1  # no reload
    connection.close()


def test_a_deaf_listener_is_caught_by_the_heartbeat(installed_url, readers):
    reader = readers(installed_url, heartbeat=0.5)
    reader.sees("g1")
    reader.call("deafen")
    connection = writer(installed_url)
    sql(connection, "UPDATE coh_genres SET name = 'unheard' WHERE id = 1")
    reader.sees("unheard")
    status = reader.status()
    assert status["notifications"] == 0 and status["heartbeats"] >= 1
    connection.close()


def test_terminated_listener_is_degraded_then_resets_everything_on_reconnect(
        installed_url, readers, postgres_server):
    reader = readers(installed_url, heartbeat=30.0)  # only the reconnect can tell
    reader.sees("g1")
    reader.sees("g1", model="SeedGenre")
    database = make_url(installed_url).database
    connection = writer(installed_url)
    # Nobody may connect for a while: the listener stays away.
    postgres_server.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        postgres_server.execute("SELECT pg_terminate_backend(:pid)", pid=reader.status()["backend_pid"])
        assert reader.call("until_status", key="degraded", value=True, timeout=WAIT)["ok"]
        # Committed while the listener is away: the own mixin's reader keeps
        # serving what it had, fullcache's bypasses its cache meanwhile.
        sql(connection, "UPDATE coh_genres SET name = 'while away' WHERE id = 1")
        sql(connection, "UPDATE coh_seed_genres SET name = 'while away' WHERE id = 1")
        away = reader.sees("while away")
        assert reader.call("cached")["cached"] is False
    finally:
        postgres_server.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    status = reader.call("until_status", key="connected", value=True, timeout=WAIT)["status"]
    assert status["reconnects"] >= 1 and status["degraded"] is False
    reader.sees("while away", model="SeedGenre")
    # Served from the cache again: the lookup reloaded it (a later reset
    # may have emptied it since, so the count tells, not the cache).
    assert reader.sees("while away")["populates"] > away["populates"]
    connection.close()


def test_an_old_repeatable_read_reader_never_republishes_the_old_row(installed_url, readers):
    reader = readers(installed_url)
    reader.sees("g1")
    assert reader.call("old_reader_begin")["name"] == "g1"
    notified = reader.status()["notifications"]
    connection = writer(installed_url)
    sql(connection, "UPDATE coh_genres SET name = 'new' WHERE id = 1")
    assert reader.call("until_status", key="notifications", value=notified + 1, timeout=WAIT)["ok"]
    # The old session's lookup is the one that reloads: from a transaction of
    # its own, so the cache gets the new row, whatever that session sees.
    reader.call("old_reader_lookup")
    assert reader.call("lookup")["name"] == "new"
    connection.close()


def test_a_storm_of_commits_ends_coherent_with_bounded_reloads(installed_url, readers):
    reader = readers(installed_url)
    reader.sees("g1")
    # The reader looks up all along, while the commits land.
    reader.process.stdin.write(json.dumps({"op": "until", "id": 1, "name": "last", "timeout": 60}) + "\n")
    reader.process.stdin.flush()
    connection = writer(installed_url)
    for n in range(999):
        sql(connection, "UPDATE coh_genres SET name = %s WHERE id = 1", f"storm {n}")
    sql(connection, "UPDATE coh_genres SET name = 'last' WHERE id = 1")
    reply = json.loads(reader.process.stdout.readline())
    assert reply["ok"], reply
    status = reader.status()
    # At most one reload per invalidation (never a reload per lookup).
    assert reply["populates"] <= status["notifications"] + status["heartbeats"] + 2
    assert reader.call("lookup")["name"] == "last"
    connection.close()


def test_a_forked_child_listens_itself_and_keeps_unchanged_caches(installed_url, readers, tmp_path):
    reader = readers(installed_url)
    reader.sees("g1")
    parent = reader.status()
    out = tmp_path / "child.jsonl"
    child = reader.call("fork", path=str(out), id=1, name="after fork", timeout=WAIT)["child"]
    lines = _lines(out, 1)
    first = lines[0]
    assert first["ready"] and first["status"]["pid"] == child
    assert first["status"]["backend_pid"] != parent["backend_pid"]
    assert first["cached_at_fork"] and first["cached_after_ready"]  # nothing moved: nothing reset
    connection = writer(installed_url)
    sql(connection, "UPDATE coh_genres SET name = 'after fork' WHERE id = 1")
    assert _lines(out, 2)[1]["ok"]
    reader.sees("after fork")  # the parent's listener lives on too
    connection.close()


def _lines(path: Path, count: int) -> list:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if path.exists():
            lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if len(lines) >= count:
                return lines
        time.sleep(0.02)
    raise AssertionError(f"the child wrote {path.read_text() if path.exists() else 'nothing'}")


def test_a_stopped_reader_blocks_no_writer_and_is_coherent_after(installed_url, readers):
    reader = readers(installed_url)
    reader.sees("g1")
    connection = writer(installed_url)
    sql(connection, "SET statement_timeout = '20s'")  # a blocked commit fails the test instead of hanging it
    os.kill(reader.pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        for n in range(50):
            sql(connection, "UPDATE coh_genres SET name = %s WHERE id = 1", f"while stopped {n}")
        assert _state(reader.pid) == "T"  # every commit returned while the reader was stopped
        time.sleep(max(0.0, 3.0 - (time.monotonic() - stopped_at)))
    finally:
        os.kill(reader.pid, signal.SIGCONT)
    reader.sees("while stopped 49")
    connection.close()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_stop_and_interpreter_exit_never_hang(installed_url, readers):
    reader = readers(installed_url)
    assert reader.call("stop")["stopped"] is True
    assert reader.status()["running"] is False
    other = readers(installed_url)
    other.sees("g1")
    other.process.stdin.write(json.dumps({"op": "exit"}) + "\n")
    other.process.stdin.flush()
    assert other.process.wait(WAIT) == 0


def test_server_restart_then_a_change_is_seen(tmp_path, readers):
    from pgcluster import _ThrowawayCluster, create_database, find_postgres_bindir

    cluster = _ThrowawayCluster(find_postgres_bindir())
    try:
        url = create_database(cluster.start(), "restart")
        coherent.fill(url)
        install(url, MODELS)
        reader = readers(url, heartbeat=30.0)
        reader.sees("g1")
        pg_ctl = [str(cluster.bindir / "pg_ctl"), "-D", str(cluster.datadir), "-w"]
        assert cluster._run(*pg_ctl, "-m", "fast", "stop").returncode == 0
        assert reader.call("until_status", key="degraded", value=True, timeout=WAIT)["ok"]
        assert cluster._run(*pg_ctl, "-l", str(cluster.logfile), "-o", f"-p {cluster.port}", "start").returncode == 0
        connection = writer(url)
        sql(connection, "UPDATE coh_genres SET name = 'after restart' WHERE id = 1")
        connection.close()
        reader.sees("after restart")
        status = reader.call("until_status", key="connected", value=True, timeout=WAIT)["status"]
        assert status["reconnects"] >= 1
    finally:
        cluster.stop()


def test_eager_reloads_once_a_burst_is_over(installed_url, readers):
    reader = readers(installed_url, reload="eager", debounce=0.05)
    reader.sees("g1")
    connection = writer(installed_url)
    for n in range(20):
        sql(connection, "UPDATE coh_genres SET name = %s WHERE id = 1", f"burst {n}")
    reply = reader.call("until_cached", name="burst 19", timeout=WAIT)
    assert reply["ok"], reply
    assert reply["reloads"] < 20  # debounced: not one reload per commit
    connection.close()


# -- the ORM fallback ------------------------------------------------------------------


def test_without_capture_the_orm_notifies_its_own_commits_only(pg_url, readers):
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from fullcache_cli.runtime.coherence import orm

    reader = readers(pg_url)
    assert reader.status()["capture"] == "orm"
    reader.sees("g1")
    engine = create_engine(pg_url)
    orm.enable([coherent.Genre])
    try:
        with Session(engine) as session:
            session.get(coherent.Genre, 1).name = "flushed"
            session.commit()
        reader.sees("flushed")
        with Session(engine) as session:
            session.execute(update(coherent.Genre).where(coherent.Genre.id == 1).values(name="bulk"))
            session.commit()
        reader.sees("bulk")
        notified = reader.status()["notifications"]
        with Session(engine) as session:
            session.get(coherent.Genre, 1).name = "rolled back"
            session.flush()
            session.rollback()
        with Session(engine) as session:
            nested = session.begin_nested()
            session.get(coherent.Genre, 2).name = "savepoint"
            session.flush()
            nested.rollback()
            session.get(coherent.Genre, 3).name = "sentinel"
            session.commit()
        reader.sees("sentinel", id=3)
        assert reader.status()["notifications"] == notified + 1
        with engine.begin() as connection:  # raw SQL: invisible without capture
            connection.execute(text("UPDATE coh_genres SET name = 'raw' WHERE id = 2"))
        assert reader.call("lookup", id=2)["name"] == "g2"
    finally:
        orm.disable()
        engine.dispose()


# -- SQLite ---------------------------------------------------------------------------


@pytest.mark.parametrize("captured", [True, False], ids=["counters", "no-capture"])
def test_sqlite_two_processes_within_the_poll_bound(tmp_path, readers, captured):
    url = f"sqlite:///{tmp_path / 'a file#with ?odd name.db'}"
    coherent.fill(url)
    if captured:
        install(url, MODELS)
    reader = readers(url, poll=0.05)
    assert reader.status()["capture"] == ("database" if captured else None)
    reader.sees("g1")
    reader.sees("g1", model="SeedGenre")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE coh_genres SET name = 'written' WHERE id = 1"))
    reader.sees("written")
    reader.sees("g1", model="SeedGenre")  # cached again, whatever reset it
    populates = reader.call("lookup", model="Genre")["populates"]
    with engine.begin() as connection:
        connection.execute(text("UPDATE coh_seed_genres SET name = 'seed' WHERE id = 1"))
    reader.sees("seed", model="SeedGenre")
    # With counters only the table that changed is reset; without, every model.
    assert reader.call("lookup", model="Genre")["populates"] == populates + (0 if captured else 1)
    engine.dispose()


def test_the_runtime_imports_no_tool_module():
    code = (
        "import sys\n"
        "import fullcache_cli\n"
        "start = fullcache_cli.coherence.start\n"
        "from fullcache_cli.runtime.coherence import listener, orm, sqlite\n"
        "assert fullcache_cli.coherence is sys.modules['fullcache_cli.runtime.coherence']\n"
        "tool = ('cli', 'loading', 'database', 'render', 'report', 'reports', 'masking', 'warming', 'coherence_admin')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('click', 'rich')\n"
        "       or m in tuple('fullcache_cli.' + name for name in tool)]\n"
        "assert not bad, bad\n"
    )
    runs_alone(code)


def test_database_capture_asked_but_missing_is_degraded_until_installed(pg_url, readers):
    reader = Reader.__new__(Reader)  # not waiting for "ready": it cannot be, yet
    reader.process = subprocess.Popen(
        [sys.executable, "-m", "tests.apps.coherence_reader", pg_url, json.dumps({"capture": "database"})],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        reader.pid = json.loads(reader.process.stdout.readline())["pid"]
        status = reader.call("until_error", text="change capture is not installed", timeout=WAIT)["status"]
        assert status["degraded"] is True and status["connected"] is False
        connection = writer(pg_url)
        sql(connection, "UPDATE coh_genres SET name = 'uncaptured' WHERE id = 1")
        assert reader.sees("uncaptured")["populates"] == 0  # bypassed: the database answers
        assert reader.call("cached")["cached"] is False
        install(pg_url, MODELS)
        assert reader.call("until_status", key="connected", value=True, timeout=WAIT)["ok"]
        sql(connection, "UPDATE coh_genres SET name = 'captured' WHERE id = 1")
        assert reader.sees("captured")["populates"] >= 1  # the cache is in use again
        connection.close()
    finally:
        reader.close()
