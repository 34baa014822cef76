"""Mutation check of the test suite: does each test that guards a promise fail
when the code breaks that promise?

Each mutation below changes one snippet of the package. For each, alone, on a
temporary copy of the tree (the working tree is never touched), the tests
relevant to it run; the mutation is *killed* when they fail and *survives*
when they pass. A control run of the same tests on the unchanged copy comes
first: a mutation is only killed by tests that pass without it.

    python tools/mutate.py                 # every mutation
    python tools/mutate.py M1 M4a          # some of them
    python tools/mutate.py --list          # what each one changes

PostgreSQL is required (``FULLCACHE_REQUIRE_POSTGRES=1``): one throwaway
cluster is started for the whole run (as the test suite does), unless
``FULLCACHE_TEST_POSTGRES_URL`` names a server. Exit status: 0 when every
mutation is killed, 1 when one survives, 2 when the run could not be made
(a snippet no longer in the code: the mutation needs updating; or the
control run fails).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent

CLI_TESTS = ["tests/test_cli_warm.py", "tests/test_cli_inspect_lookup.py", "tests/test_cli_errors.py"]


@dataclass
class Mutation:
    id: str
    what: str
    path: str
    old: str
    new: str
    tests: List[str]
    pytest_args: List[str] = field(default_factory=list)

    def apply(self, text: str) -> str:
        count = text.count(self.old)
        if count != 1:
            raise LookupError(f"{self.path}: the snippet occurs {count} times, not once: update {self.id}")
        return text.replace(self.old, self.new)


# The tests that guard a mutation come first in its list, so that -x stops early.
MUTATIONS = [
    # The four the test suite once missed.
    Mutation(
        "M1", "the key cache keeps the first row read, not the lowest id",
        "fullcache_cli/runtime/mixin.py", "lower = id < held_id", "lower = False",
        # The command line's tests alone: the mixin's own tests always caught it.
        ["tests/test_cli_observations.py", *CLI_TESTS],
    ),
    Mutation(
        "M2", "password masking disabled (SQLite only)",
        "fullcache_cli/masking.py",
        "    if not text:\n        return text\n",
        "    return text\n",
        ["tests/test_cli_masking.py", "tests/test_library.py", *CLI_TESTS],
        ["-m", "not postgresql"],
    ),
    Mutation(
        "M3", "the library's report.database keeps the password",
        "fullcache_cli/masking.py",
        '    """The URL as it may be printed: every password masked."""\n',
        '    """The URL as it may be printed: every password masked."""\n'
        "    return url.render_as_string(hide_password=False)\n",
        ["tests/test_library.py"],
    ),
    Mutation(
        "M4a", "PostgreSQL transactions not REPEATABLE READ",
        "fullcache_cli/database.py",
        '"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"', '"SET TRANSACTION READ ONLY"',
        ["tests/test_cli_observations.py"],
    ),
    Mutation(
        "M4b", "a single None key counted as a problem",
        "fullcache_cli/reports/warm.py", "if len(self.none_keys) > 1:", "if self.none_keys:",
        ["tests/test_cli_observations.py", *CLI_TESTS],
    ),
    Mutation(
        "M4c", "no cap of 200 ids on timed lookups",
        "fullcache_cli/warming.py",
        "evenly(id_cache.keys(), len(id_cache), self.lookup_samples)", "list(id_cache.keys())",
        ["tests/test_cli_observations.py", *CLI_TESTS],
    ),
    Mutation(
        "M4d", "no cap of 50 database queries on timed lookups",
        "fullcache_cli/lookup_timing.py", "ids[:DB_SAMPLES]", "ids",
        ["tests/test_cli_observations.py", *CLI_TESTS],
    ),
    # Those the suite caught already: they must stay caught.
    Mutation(
        "C1", "the collision rule flipped: the highest id keeps the key",
        "fullcache_cli/runtime/mixin.py", "lower = id < held_id", "lower = id > held_id",
        CLI_TESTS,
    ),
    Mutation(
        "C2", "merge failures not detected",
        "fullcache_cli/warming.py", "self.report.merge_failures = failures", "self.report.merge_failures = []",
        CLI_TESTS,
    ),
    Mutation(
        "C3", "check exits 0 whatever it found",
        "fullcache_cli/cli_commands.py", "ctx.exit(0 if report.ok else EXIT_PROBLEMS)", "ctx.exit(0)",
        CLI_TESTS,
    ),
    Mutation(
        "C4", "the read-only settings dropped",
        "fullcache_cli/database.py",
        "    _make_read_only(engine, backend, statement_timeout)\n", "",
        ["tests/test_cli_readonly.py"],
    ),
    # Promises that had no test.
    Mutation(
        "P1", "Ctrl-C commits instead of rolling back",
        "fullcache_cli/database.py",
        "            if transaction.is_active or connection.in_transaction():\n                connection.rollback()",
        "            if transaction.is_active or connection.in_transaction():\n                connection.commit()",
        ["tests/test_cli_interrupt.py"],
    ),
    Mutation(
        "P2", "a joined Session is rolled back after the warm",
        "fullcache_cli/database.py",
        "                yield connection, Database(connection.engine, connection.engine.url)\n            return",
        "                yield connection, Database(connection.engine, connection.engine.url)\n"
        "            bind.rollback()\n            return",
        ["tests/test_cli_warm.py", "tests/test_library.py", "tests/test_escapes.py"],
    ),
    Mutation(
        "P3", "DATABASE_URL before FULLCACHE_DATABASE_URL",
        "fullcache_cli/cli.py",
        'envvar=["FULLCACHE_DATABASE_URL", "DATABASE_URL"],', 'envvar=["DATABASE_URL", "FULLCACHE_DATABASE_URL"],',
        ["tests/test_cli_options.py", "tests/test_cli_loading.py"],
    ),
    Mutation(
        "P4", "an application's Engine read through a new engine, not its own pool",
        "fullcache_cli/database.py", "        engine.pool.recreate(),", "        create_engine(engine.url).pool,",
        ["tests/test_library.py", "tests/test_cli_readonly.py"],
    ),
    Mutation(
        "P4b", "an application's SQLite in memory read through a new pool (another, empty database)",
        "fullcache_cli/database.py", "    if _in_memory(engine):", "    if False:",
        ["tests/test_library.py"],
    ),
    Mutation(
        "P5", "a failing lookup not reported",
        "fullcache_cli/warming.py", "            report.lookup_error = self.describe(error)", "            pass",
        ["tests/test_cli_observations.py", *CLI_TESTS],
    ),
    Mutation(
        "P6", "--connect-timeout defaults to 5 s",
        "fullcache_cli/defaults.py", "DEFAULT_CONNECT_TIMEOUT = 10.0", "DEFAULT_CONNECT_TIMEOUT = 5.0",
        ["tests/test_cli_observations.py", "tests/test_cli_docs.py"],
    ),
    Mutation(
        "P7", "--allow keeps only the last kind given",
        "fullcache_cli/cli_commands.py", "allow=allowed,", "allow=allowed[-1:],",
        ["tests/test_cli_options.py", *CLI_TESTS],
    ),
    Mutation(
        "P8", "inspect shows 10 items of each list by default",
        "fullcache_cli/defaults.py", "DEFAULT_LIMIT = 20", "DEFAULT_LIMIT = 10",
        ["tests/test_cli_options.py", *CLI_TESTS],
    ),
    Mutation(
        "P9", "a known password masked wherever its letters appear",
        "fullcache_cli/masking.py",
        '                text = text.replace(f":{form}@", f":{MASK}@")', "                text = text.replace(form, MASK)",
        ["tests/test_cli_masking.py", *CLI_TESTS],
    ),
    Mutation(
        "P10", "the models' log records printed whole, not one line",
        "fullcache_cli/cli.py",
        '            first = (message.strip().splitlines() or [""])[0]', "            first = message.strip()",
        ["tests/test_cli_masking.py", "tests/test_cli_errors.py"],
    ),
    Mutation(
        "R1", "SQLite's authorizer lets writes through (SQLite only)",
        "fullcache_cli/sqlite_guard.py", "    if action in _SQLITE_WRITES:\n        return sqlite3.SQLITE_DENY\n", "",
        ["tests/test_escapes.py"],
        ["-m", "not postgresql"],
    ),
    Mutation(
        "R2", "statements that end the transaction let through",
        "fullcache_cli/guards.py", "    if escaping_statement(statement):\n        _refuse(conn, statement)\n", "",
        ["tests/test_escapes.py"],
    ),
    Mutation(
        "R3", "a model that escaped the transaction not reported",
        "fullcache_cli/guards.py",
        '        breaches.append(Breach("escaped_transaction", ESCAPED.format(how=escaped)))', "        pass",
        ["tests/test_escapes.py"],
    ),
    Mutation(
        "R4", "Ctrl-C does not cancel the running statement",
        "fullcache_cli/cli.py", "            with cancel_on_interrupt(database.cancel):", "            with nullcontext():",
        ["tests/test_cancel.py"],
        ["-k", "ctrl_c"],
    ),
]


def tracked_files() -> List[str]:
    """The tree as git sees it: tracked and untracked files, ignored ones left out."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def copy_tree(into: Path) -> None:
    for name in tracked_files():
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def run_tests(tree: Path, tests: Sequence[str], extra: Sequence[str], env: Dict[str, str]) -> Tuple[bool, str]:
    """``(passed, last lines of the output)`` of pytest on ``tests`` in ``tree``."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *extra, *tests],
        cwd=tree, env=env, capture_output=True, text=True,
    )
    tail = "\n".join(done.stdout.strip().splitlines()[-3:])
    return done.returncode == 0, tail


def postgres_env() -> Tuple[Dict[str, str], object]:
    """The environment for the children, and a cluster to stop (or None)."""
    env = {**os.environ, "FULLCACHE_REQUIRE_POSTGRES": "1"}
    if env.get("FULLCACHE_TEST_POSTGRES_URL"):
        return env, None
    sys.path.insert(0, str(ROOT / "tests"))
    from pgcluster import _ThrowawayCluster, find_postgres_bindir

    bindir = find_postgres_bindir()
    if bindir is None:
        return env, None  # the control run says why
    cluster = _ThrowawayCluster(bindir)
    url = cluster.start()
    env["FULLCACHE_TEST_POSTGRES_URL"] = url.render_as_string(hide_password=False)
    return env, cluster


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    options = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not options.ids or m.id in options.ids]
    if options.list:
        for m in chosen:
            print(f"{m.id:4}  {m.path}: {m.what}")
            print("\n".join(f"      - {line.strip()}" for line in m.old.strip("\n").splitlines()))
            print("\n".join(f"      + {line.strip()}" for line in m.new.strip("\n").splitlines()))
        return 0
    unknown = set(options.ids) - {m.id for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutation(s): {', '.join(sorted(unknown))}")

    # A terminated run still stops its cluster and removes its copy.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="fullcache-mutate-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        env, cluster = postgres_env()
        # The copy's package, never an installed one.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
        try:
            return _run(chosen, tree, env)
        finally:
            if cluster is not None:
                cluster.stop()


def _run(chosen: List[Mutation], tree: Path, env: Dict[str, str]) -> int:
    where = subprocess.run(
        [sys.executable, "-c", "import fullcache_cli; print(fullcache_cli.__file__)"],
        cwd=tree, env=env, capture_output=True, text=True,
    ).stdout.strip()
    if not where.startswith(str(tree)):
        print(f"the copy imports fullcache_cli from {where}, not from {tree}", file=sys.stderr)
        return 2
    for m in chosen:  # every snippet is checked before anything runs
        try:
            m.apply((tree / m.path).read_text())
        except (LookupError, OSError) as error:
            print(f"stale mutation: {error}", file=sys.stderr)
            return 2
    controls: Dict[Tuple[Tuple[str, ...], Tuple[str, ...]], bool] = {}
    results = []
    print(f"{'id':4}  {'result':8}  {'seconds':>7}  what (tests)", flush=True)
    for m in chosen:
        key = (tuple(m.tests), tuple(m.pytest_args))
        if key not in controls:
            passed, tail = run_tests(tree, m.tests, m.pytest_args, env)
            controls[key] = passed
            if not passed:
                print(f"control run failed (unchanged code): {' '.join(m.pytest_args + m.tests)}\n{tail}",
                      file=sys.stderr)
                return 2
        path = tree / m.path
        original = path.read_text()
        started = time.monotonic()
        try:
            path.write_text(m.apply(original))
            passed, tail = run_tests(tree, m.tests, m.pytest_args, env)
        finally:
            path.write_text(original)
        result = "survived" if passed else "killed"
        results.append(result)
        tests = " ".join(t.removeprefix("tests/") for t in m.tests)
        flags = f" {' '.join(m.pytest_args)}" if m.pytest_args else ""
        print(f"{m.id:4}  {result:8}  {time.monotonic() - started:7.1f}  {m.what} ({tests}{flags})", flush=True)
    survived = results.count("survived")
    print(f"\n{len(results) - survived} killed, {survived} survived")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
