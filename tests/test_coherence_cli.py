"""The coherence commands, through the command line, on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.apps import coherent
from tests.helpers import run

ROOT = Path(__file__).resolve().parent.parent
MODELS = "tests.apps.coherent"


@pytest.fixture
def url(database_url):
    coherent.fill(database_url)
    return database_url


def cli(url, *args):
    return run(*args, "--models", MODELS, "--database-url", url)


def test_install_status_uninstall(url, backend):
    result = cli(url, "coherence", "status")
    assert result.exit_code == 1
    assert "not installed" in result.stderr
    if backend == "postgresql":
        assert "raw SQL, psql and other applications are invisible" in result.stderr

    result = cli(url, "coherence", "install")
    assert result.exit_code == 0, result.output
    assert "created: " in result.stdout
    again = cli(url, "coherence", "install")
    assert again.exit_code == 0 and "nothing to change: already installed" in again.stdout

    code_status = cli(url, "coherence", "status", "--json")
    assert code_status.exit_code == 0, code_status.output
    document = json.loads(code_status.stdout)
    assert document["installed"] is True and document["ok"] is True
    assert {t["model"]: t["generation"] for t in document["tables"]} == {"Genre": 0, "SeedGenre": 0}

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE coh_genres SET name = 'x' WHERE id = 1"))
    engine.dispose()
    assert cli(url, "invalidate", "SeedGenre").exit_code == 0
    document = json.loads(cli(url, "coherence", "status", "--json").stdout)
    assert {t["model"]: t["generation"] for t in document["tables"]} == {"Genre": 1, "SeedGenre": 1}

    removed = cli(url, "coherence", "uninstall")
    assert removed.exit_code == 0 and "removed: " in removed.stdout
    assert cli(url, "coherence", "status").exit_code == 1


def test_install_sql_prints_and_writes_nothing(url, backend):
    result = cli(url, "coherence", "install", "--sql")
    assert result.exit_code == 0
    assert ("CREATE TRIGGER fullcache_capture" if backend == "postgresql" else "CREATE TRIGGER IF NOT EXISTS") in result.stdout
    assert cli(url, "coherence", "status").exit_code == 1  # still not installed
    removal = cli(url, "coherence", "uninstall", "--sql")
    assert removal.exit_code == 0 and "DROP" in removal.stdout


def test_invalidate_needs_models_or_all(url):
    result = cli(url, "invalidate")
    assert result.exit_code == 2 and "--all" in result.stderr
    result = cli(url, "invalidate", "Genr")
    assert result.exit_code == 2 and "did you mean 'Genre'" in result.stderr
    result = cli(url, "invalidate", "--all", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["action"] == "invalidate"


def test_writing_commands_say_so_in_their_help():
    for args in (["coherence", "install"], ["coherence", "uninstall"], ["invalidate"]):
        result = run(*args, "--help")
        assert "WRITES" in result.stdout and "fullcache's own objects only" in result.stdout


def test_watch_shows_the_notifications(url, backend):
    if backend == "sqlite":
        result = cli(url, "watch", "--timeout", "0")
        assert result.exit_code == 2 and "needs PostgreSQL" in result.stderr
        return
    assert cli(url, "coherence", "install").exit_code == 0
    watcher = subprocess.Popen(
        [sys.executable, "-m", "fullcache_cli", "watch", "Genre", "--count", "1", "--timeout", "20", "--json",
         "--models", MODELS, "--database-url", url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    engine = create_engine(url)
    try:
        # Commit until the watcher, once listening, has seen one and ended.
        n = 0
        while watcher.poll() is None and n < 2000:
            with engine.begin() as connection:
                connection.execute(text("UPDATE coh_seed_genres SET name = 'other table'"))
                connection.execute(text("UPDATE coh_genres SET name = :name WHERE id = 1"), {"name": f"w{n}"})
            n += 1
            time.sleep(0.01)
        out, err = watcher.communicate(timeout=30)
    finally:
        engine.dispose()
    assert watcher.returncode == 0, err
    (line,) = out.splitlines()
    event = json.loads(line)
    assert event["table"] == "public.coh_genres"  # the other table is not watched
    assert isinstance(event["txid"], int) and isinstance(event["sender_pid"], int) and event["delay_ms"] >= 0


def test_check_says_when_listeners_run_without_capture(url, backend):
    from fullcache_cli import coherence

    handle = coherence.start(url, [coherent.Genre], heartbeat=30.0)
    try:
        assert handle.wait_ready(15)
        result = cli(url, "check")
        if backend == "postgresql":
            assert "without change capture" in result.stderr and "invisible" in result.stderr
            assert cli(url, "coherence", "install").exit_code == 0
        assert "without change capture" not in cli(url, "check").stderr
    finally:
        handle.stop()
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from fullcache_cli.runtime.coherence import orm

    # Stopped: nothing of it stays behind in this process.
    assert coherent.Genre._fullcache.reload_session is None
    assert not event.contains(Session, "after_flush", orm._after_flush)
