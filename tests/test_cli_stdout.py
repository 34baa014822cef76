"""stdout carries the report alone, and the process ends when the report is
made, whatever the models' code does: the console script itself, in a
process of its own (what CliRunner cannot show: file descriptor 1, a
subprocess, atexit, threads, the terminal's encoding). tests/apps/noisy.py
holds the models.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apps import noisy
from tests.helpers import by_model, filled

ROOT = Path(__file__).resolve().parent.parent
FULLCACHE = str(Path(sys.executable).with_name("fullcache"))
NOISE = ["noisy: printed at import", "noisy: print()", "noisy: sys.__stdout__", "noisy: os.write(1)",
         "noisy: a subprocess", "noisy: printed by a key's repr", "noisy: printed at exit"]
# A guard against a process that never ends (the failure under test), not a
# measure of speed.
HANG = 120


@pytest.fixture
def noisy_url(database_url):
    return filled(database_url, noisy.fill)


def fullcache(*args: str, encoding: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FULLCACHE_", "DATABASE_URL"))}
    if encoding:
        env["PYTHONIOENCODING"] = encoding
    try:
        return subprocess.run([FULLCACHE, *args], cwd=ROOT, env=env, capture_output=True, timeout=HANG)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"fullcache {' '.join(args)} was still running after {HANG} s: {error.stderr!r}")


@pytest.mark.parametrize("encoding", [None, "ascii"])
def test_json_stdout_is_one_document_whatever_the_models_write(noisy_url, encoding):
    result = fullcache("check", "Noisy", "BadRepr", "Quiet", "--models", "tests.apps.noisy",
                       "--database-url", noisy_url, "--json", encoding=encoding)

    stdout, stderr = result.stdout.decode("ascii" if encoding else "utf-8"), result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, stderr
    document = json.loads(stdout)
    models = by_model(document)
    assert list(models) == ["Noisy", "BadRepr", "Quiet"]
    assert models["Noisy"]["collisions"][0]["key"] == ["café \udcff", "PrintsWhenShown()"]
    assert models["BadRepr"]["collisions"][0]["key"] == "<_ReprRaises: repr failed: RuntimeError>"
    for line in NOISE:
        assert line not in stdout and line in stderr, line
    assert "Traceback" not in stderr


def test_tables_for_people_on_an_ascii_terminal(noisy_url):
    result = fullcache("check", "Noisy", "BadRepr", "Quiet", "--models", "tests.apps.noisy",
                       "--database-url", noisy_url, encoding="ascii")

    stdout = result.stdout.decode("ascii")
    assert result.returncode == 1, result.stderr
    assert "3 models, 6 rows" in stdout
    assert "Noisy  collision  ids 1, 2  key" in stdout
    assert "<_ReprRaises: repr failed: RuntimeError>" in stdout
    assert not any(line in stdout for line in NOISE)


def test_a_thread_left_running_does_not_keep_fullcache_alive(noisy_url):
    result = fullcache("warm", "Lingers", "Quiet", "--models", "tests.apps.noisy", "--database-url", noisy_url,
                       "--json")

    assert result.returncode == 0, result.stderr
    assert [m["model"] for m in json.loads(result.stdout)["models"]] == ["Lingers", "Quiet"]
    assert ("fullcache: exiting without waiting for 1 thread the models' code left running ('noisy forever')"
            in result.stderr.decode())
