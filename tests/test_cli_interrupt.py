"""Ctrl-C in a real process: the command exits 130 with one line, and a
write the models' code already made in fullcache's transaction does not land
(on SQLite the file fullcache opened read-only refuses the write itself)."""

from __future__ import annotations

import signal
import time

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.apps import probes
from tests.helpers import filled, fullcache_process


def _rows(url: str) -> list:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT id FROM probes_interrupted ORDER BY id")).scalars())
    finally:
        engine.dispose()


def test_ctrl_c_rolls_back_a_write_that_already_happened(database_url, backend, tmp_path):
    filled(database_url, probes.fill)
    ready = tmp_path / "ready"
    with fullcache_process(
        "warm", "Interrupted", "--models", "tests.apps.probes", "--database-url", database_url,
        env={"PROBES_READY": str(ready)},
    ) as process:
        deadline = time.monotonic() + 120  # a bound on a hang, not a measurement
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), process.communicate(timeout=5) if process.poll() is not None else "no write in 120 s"
        assert ready.read_text() == ("wrote" if backend == "postgresql" else "refused")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, (stdout, stderr)
    assert stderr.splitlines() == ["Error: interrupted: nothing was written (the transaction was rolled back)"]
    assert stdout == ""
    assert _rows(database_url) == [1, 2, 3]
