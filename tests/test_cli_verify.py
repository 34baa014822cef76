"""fullcache verify and check --verify on the command line, on SQLite and
PostgreSQL: the JSON document, the terminal's capped lists, exit codes, and
rows changed by another process while the command waits (--after)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fullcache_cli
import fullcache_cli.cli  # first: it registers cli_verify's command
import fullcache_cli.cli_verify
from tests.apps import drifting
from tests.helpers import PLANTED, by_model, run, run_json

DRIFTING = "tests.apps.drifting"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def writes_while_waiting(monkeypatch):
    """Have the command's wait run SQL from a process of its own (committed
    before the wait ends, so the comparison that follows sees it)."""
    waits = []

    def arrange(url, prefix, *statements):
        def wait(seconds):
            waits.append(seconds)
            subprocess.run(
                [sys.executable, "-m", DRIFTING, url, prefix, *statements], cwd=ROOT, check=True, timeout=120
            )

        monkeypatch.setattr(fullcache_cli.cli_verify, "_wait", wait)
        return waits

    return arrange


def test_no_drift_on_the_sample_exits_0_with_the_documented_document(sample_url):
    code, document = run_json("verify", "--database-url", sample_url)
    assert code == 0
    assert set(document) == {
        "schema", "database", "scope", "after_seconds", "seconds", "models", "counts", "drifted_models", "ok",
    }
    assert document["schema"] == "fullcache.verify/1"
    assert "relationships are not compared" in document["scope"]
    assert (document["ok"], document["drifted_models"], document["after_seconds"]) == (True, [], 0.0)
    assert document["counts"] == {"stale": 0, "missing": 0, "extra": 0, "key_drift": 0}
    genre = by_model(document)["Genre"]
    assert set(genre) == {
        "model", "table", "mixin", "mixin_class", "status", "error", "populated", "populate_error", "rows",
        "cached_ids", "cached_keys", "counts", "drift", "stale", "missing", "extra", "key_drift", "unloaded",
    }
    assert (genre["rows"], genre["cached_ids"], genre["populated"], genre["drift"]) == (228, 228, False, False)


def test_rows_changed_by_another_process_during_after(drifting_url, writes_while_waiting):
    waits = writes_while_waiting(
        drifting_url, "Fc",
        "UPDATE {items} SET label = 'relabelled' WHERE id = 1",
        "UPDATE {items} SET code = 'q' WHERE id = 2",
        "DELETE FROM {items} WHERE id = 3",
        "INSERT INTO {items} (id, code, label) VALUES (9, 'c', 'label c again')",
    )
    code, document = run_json("verify", "FcItem", "--after", "5", "--models", DRIFTING, "--database-url", drifting_url)
    assert waits == [5.0]
    assert code == 1
    assert (document["ok"], document["drifted_models"], document["after_seconds"]) == (False, ["FcItem"], 5.0)
    model = by_model(document)["FcItem"]
    assert model["stale"] == [
        {
            "id": 1, "columns": {"label": {"cached": "label a", "table": "relabelled"}},
            "key_moved": False, "cached_key": "a", "table_key": "a",
        },
        {
            "id": 2, "columns": {"code": {"cached": "b", "table": "q"}},
            "key_moved": True, "cached_key": "b", "table_key": "q",
        },
    ]
    assert model["extra"] == [3]
    assert model["missing"] == [9]
    # Row 3's key "c" belongs to the new row 9 now; row 2's old "b" to none.
    assert model["key_drift"] == [
        {"key": "b", "cached_id": 2, "table_ids": []},
        {"key": "c", "cached_id": 3, "table_ids": [9]},
    ]
    assert model["counts"] == {"stale": 2, "missing": 1, "extra": 1, "key_drift": 2}
    assert document["counts"] == model["counts"]


def test_with_the_listener_the_same_writes_leave_no_drift(drifting_url, monkeypatch):
    """Change capture installed and verify --listen: the listener resets the
    models the writes changed before the comparison, which then finds the
    caches populated again from the table, and nothing drifted."""
    assert run("coherence", "install", "--models", DRIFTING, "--database-url", drifting_url).exit_code == 0
    statements = [
        "UPDATE {items} SET label = 'relabelled' WHERE id = 1",
        "UPDATE {items} SET code = 'q' WHERE id = 2",
        "DELETE FROM {items} WHERE id = 3",
        "INSERT INTO {items} (id, code, label) VALUES (9, 'c', 'label c again')",
    ]
    models = [drifting.FcItem, drifting.SeedItem]

    def wait(seconds):
        for prefix in ("Fc", "Seed"):
            subprocess.run(
                [sys.executable, "-m", DRIFTING, drifting_url, prefix, *statements], cwd=ROOT, check=True, timeout=120
            )
        # The listener's work is what is tested: wait for it, not for a time.
        deadline = time.monotonic() + 60
        while any(model._id_cache is not model.RESET for model in models):
            assert time.monotonic() < deadline, "the listener did not reset the written models within 60 s"
            time.sleep(0.01)

    monkeypatch.setattr(fullcache_cli.cli_verify, "_wait", wait)
    code, document = run_json(
        "verify", "FcItem", "SeedItem", "--after", "5", "--listen", "--models", DRIFTING, "--database-url", drifting_url
    )
    assert code == 0, document
    assert document["ok"] is True and document["drifted_models"] == []
    for model in document["models"]:
        assert model["populated"] is True  # reset by the listener, populated again to compare
        assert model["counts"] == {"stale": 0, "missing": 0, "extra": 0, "key_drift": 0}
        assert (model["rows"], model["cached_ids"]) == (4, 4)
    assert fullcache_cli.coherence.running() == []  # the listener was stopped


def test_without_after_nothing_waits_and_a_seed_model_shows_what_it_dropped(drifting_url, monkeypatch):
    monkeypatch.setattr(fullcache_cli.cli_verify, "_wait", lambda seconds: pytest.fail("waited"))
    result = run("verify", "SeedItem", "SeedHolding", "--models", DRIFTING, "--database-url", drifting_url)
    assert result.exit_code == 0, result.output
    assert "no drift" in result.stdout


def test_the_terminal_shows_limit_items_of_each_list_and_counts_the_rest(drifting_url, writes_while_waiting):
    writes_while_waiting(
        drifting_url, "Fc",
        "UPDATE {items} SET label = 'new'",
        "INSERT INTO {items} (id, code, label) VALUES (11, 'k', 'k'), (12, 'l', 'l'), (13, 'm', 'm')",
    )
    result = run(
        "verify", "FcItem", "--after", "1", "--limit", "2", "--models", DRIFTING, "--database-url", drifting_url
    )
    assert result.exit_code == 1, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    at = lines.index("FcItem")
    assert lines[at + 1 : at + 6] == [
        "  Stale (4)",
        '    id 1  label "label a" → "new"',
        '    id 2  label "label b" → "new"',
        "    … and 2 more (raise --limit, or --json for all)",
        "  Missing (3): ids 11, 12, … (+1)",
    ]
    assert "relationships are not compared" in result.stdout
    assert lines[-1].endswith("drift in 1 model (4 stale, 3 missing, 0 extra, 0 keys drifted)")
    assert "comparing after 1 s" in result.stderr


def test_usage_errors_exit_2(drifting_url):
    for args in (["NoSuchModel"], ["--after", "-1"], ["--limit", "many"]):
        result = run("verify", *args, "--models", DRIFTING, "--database-url", drifting_url)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    assert "unknown model 'NoSuchModel'" in run(
        "verify", "NoSuchModel", "--models", DRIFTING, "--database-url", drifting_url
    ).stderr


def test_a_model_that_cannot_be_read_exits_1(planted_url):
    code, document = run_json("verify", "FcMissing", "FcFormat", "--models", PLANTED, "--database-url", planted_url)
    assert code == 1
    models = by_model(document)
    assert models["FcMissing"]["status"] == "error" and "cannot be read" in models["FcMissing"]["error"]
    assert models["FcFormat"]["status"] == "ok" and not models["FcFormat"]["drift"]
    assert document["drifted_models"] == [] and document["ok"] is False


def test_check_verify_fails_on_drift_with_a_drift_problem(planted_url):
    url = planted_url
    result = run("check", "SeedTag", "FcFormat", "--verify", "--allow", "key_error", "--models", PLANTED, "--database-url", url)
    assert result.exit_code == 1, result.output
    assert "SeedTag  drift  ids 2  caches differ from the table: 0 stale, 1 missing, 0 extra, 0 keys drifted" in result.stdout

    code, document = run_json(
        "check", "SeedTag", "--verify", "--allow", "key_error", "--models", PLANTED, "--database-url", url
    )
    assert code == 1 and document["problems"] == 1
    assert document["verify"]["schema"] == "fullcache.verify/1"
    assert by_model(document["verify"])["SeedTag"]["missing"] == [2]

    allowed = run("check", "SeedTag", "--verify", "--allow", "key_error", "--allow", "drift", "--models", PLANTED, "--database-url", url)
    assert allowed.exit_code == 0, allowed.output
    without = run("check", "SeedTag", "--allow", "key_error", "--models", PLANTED, "--database-url", url, "--json")
    assert without.exit_code == 0 and "verify" not in json.loads(without.stdout)


def test_check_verify_passes_on_the_sample(sample_url):
    result = run("check", "--verify", "--database-url", sample_url)
    assert result.exit_code == 0, result.output
    assert "no problems" in result.stdout

