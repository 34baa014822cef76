"""Output that survives CI logs and pipes, in real processes: a reader that
goes away early, progress only on a terminal (FORCE_COLOR or not), COLUMNS
and trailing spaces in piped output, and shell completion."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading

import pytest

from tests.apps import big
from tests.helpers import PLANTED, filled

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FULLCACHE = [sys.executable, "-m", "fullcache_cli"]


def environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "NO_COLOR", "GITHUB_STEP_SUMMARY")}
    env["PYTHONPATH"] = REPOSITORY
    env.update(extra)
    return env


def test_a_reader_gone_before_the_first_line(planted_url):
    read, write = os.pipe()
    os.close(read)  # nobody will ever read: every write fails
    try:
        done = subprocess.run(
            FULLCACHE + ["check", "--models", PLANTED, "--database-url", planted_url],
            stdout=write, stderr=subprocess.PIPE, cwd=REPOSITORY, env=environment(), timeout=300,
        )
    finally:
        os.close(write)
    assert done.stderr == b""  # no traceback, no "Exception ignored"
    assert done.returncode == 141  # as a process killed by SIGPIPE; not 1, "problems found"


# Reads the first line and leaves, as ``head -1`` does where it does not
# drain its input (GNU head may read it all).
FIRST_LINE = "import sys; sys.stdout.write(sys.stdin.readline())"


@pytest.fixture(scope="module")
def big_url(tmp_path_factory) -> str:
    """Far more problems than a pipe holds (on SQLite: what is tested is the
    output, not the database)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('big')}/big.sqlite"
    return filled(url, lambda engine: big.fill(engine, 20_000, 10_000))


@pytest.mark.parametrize("unbuffered", ["1", ""])
@pytest.mark.parametrize("output", [["--json"], ["--limit", "100000"], ["--format", "markdown", "--limit", "100000"]])
def test_check_piped_into_a_reader_of_one_line(big_url, output, unbuffered):
    script = 'set -o pipefail; "$@" | python3 -c "$FIRST_LINE"; echo "exit ${PIPESTATUS[0]}" >&2'
    env = environment(FIRST_LINE=FIRST_LINE, PYTHONUNBUFFERED=unbuffered)
    if not unbuffered:
        del env["PYTHONUNBUFFERED"]
    done = subprocess.run(
        ["bash", "-c", script, "bash", *FULLCACHE, "check", *output, "--models", "tests.apps.big",
         "--database-url", big_url],
        capture_output=True, text=True, cwd=REPOSITORY, env=env, timeout=300,
    )
    assert done.stdout.count("\n") == 1 and done.stdout[:1] in "{W#", done.stdout[:200]
    assert done.stderr == "exit 141\n", done.stderr  # said nothing, and not 1, "problems found"


def _warm_with_stderr(planted_url: str, stderr, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        FULLCACHE + ["warm", "FcGenre", "--models", PLANTED, "--database-url", planted_url],
        stdout=subprocess.PIPE, stderr=stderr, cwd=REPOSITORY, env=environment(**env),
    )


HIDE_CURSOR = "\x1b[?25l"  # what rich's live progress display writes first


def test_no_progress_in_a_log_even_with_force_color(planted_url):
    process = _warm_with_stderr(planted_url, subprocess.PIPE, FORCE_COLOR="1")
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0
    assert HIDE_CURSOR not in stderr.decode(), stderr
    assert "\x1b[" in stdout.decode()  # FORCE_COLOR still colours the report


def test_progress_on_a_terminal(planted_url):
    leader, follower = pty.openpty()
    seen = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    process = _warm_with_stderr(planted_url, follower)
    os.close(follower)
    process.communicate(timeout=300)
    reader.join(timeout=30)
    os.close(leader)
    assert process.returncode == 0
    assert HIDE_CURSOR in seen.decode(errors="replace")


def test_piped_output_honours_columns_and_has_no_trailing_spaces(planted_url):
    def lines(**env: str) -> list:
        done = subprocess.run(
            FULLCACHE + ["check", "--models", PLANTED, "--database-url", planted_url],
            capture_output=True, text=True, cwd=REPOSITORY, env=environment(**env), timeout=300,
        )
        assert done.returncode == 1
        return done.stdout.splitlines()

    narrow = lines(COLUMNS="80")
    table = [line for line in narrow if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 80
    assert not [line for line in narrow if line != line.rstrip()]
    assert not [line for line in table if "…" in line]  # every number whole
    assert "Too narrow for" in "\n".join(narrow)
    wide = lines()
    assert max(len(line) for line in wide if line[:1] in "┏┃┡│└") > 80
    assert not [line for line in wide if line != line.rstrip()]
    assert "Too narrow for" not in "\n".join(wide)


def test_model_names_complete_without_a_database(tmp_path):
    def complete(*words: str) -> list:
        done = subprocess.run(
            FULLCACHE, capture_output=True, text=True, cwd=REPOSITORY, timeout=300,
            env=environment(
                _FULLCACHE_COMPLETE="bash_complete",
                COMP_WORDS="fullcache " + " ".join(words),
                COMP_CWORD=str(len(words)),
                # Completion must not connect: this database cannot be opened.
                DATABASE_URL=f"sqlite:///{tmp_path}/no/such/folder/x.db",
            ),
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
        return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]

    assert complete("inspect", "--models", PLANTED, "FcG") == ["FcGenre"]
    assert complete("check", "--models", PLANTED, "Seed")[:3] == ["SeedGenre", "SeedTag", "SeedShelf"]
    assert complete("lookup", "Deliv") == ["DeliveryMechanism"]  # the sample
    assert complete("check", "--allow", "merge") == ["merge_failure"]
    assert complete("inspect", "--models", "no_such_module", "X") == []
    assert not (tmp_path / "no").exists()
