"""One model's code never takes the others' reports (or the exit code) with
it: sys.exit(), argparse, SystemExit(n), CancelledError and GeneratorExit
from populate_cache or a lookup hook; a composite primary key with NULL in
it; a proxy and a metaclass in the module that raise on attribute access;
keys no lookup can ever find (NaN, a hash that changes). tests/apps/hostile.py
holds the models; every test runs on SQLite and PostgreSQL, through the
command line and the Python API.
"""

from __future__ import annotations

import json
import math

import pytest

import fullcache_cli
from tests.apps import hostile
from tests.helpers import app_database, by_model, invoke, run

HOSTILE = "tests.apps.hostile"

POPULATE_ERRORS = {
    "Exits": "SystemExit: 0",
    "ArgParses": "SystemExit: 2",
    "RaisesExit": "SystemExit: 3",
    "Cancelled": "CancelledError",
    "GeneratorExits": "GeneratorExit",
}

COMPOSITE_KEY_ERRORS = [
    {"id": [None, 1], "error": "ValueError: no key for bad-c"},
    {"id": [1, None], "error": "ValueError: no key for bad-a"},
    {"id": [1, 2], "error": "ValueError: no key for bad-b"},
]


@pytest.fixture
def hostile_url(database_url):
    with app_database(hostile, database_url) as url:
        yield url


def _problems(document: dict) -> dict:
    """(model, kind) -> how many, from the JSON report's models."""
    found: dict = {}
    for model in document["models"]:
        if model["populate_error"]:
            found[(model["model"], "populate_error")] = 1
        if model["lookup_error"]:
            found[(model["model"], "lookup_error")] = 1
        for kind in ("key_errors", "unreachable_keys", "collisions", "merge_failures"):
            if model[kind]:
                found[(model["model"], kind)] = len(model[kind])
        if model["status"] != "ok":
            found[(model["model"], model["status"])] = 1
    return found


def test_check_reports_every_model_whatever_their_code_raises(hostile_url, tmp_path):
    junit = tmp_path / "fullcache.xml"
    result = invoke("check", "--models", HOSTILE, "--database-url", hostile_url, "--json", "--junit-xml", str(junit))

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    document = json.loads(result.stdout)
    models = by_model(document)
    assert list(models) == [m.__name__ for m in hostile.MODELS]
    for name, error in POPULATE_ERRORS.items():
        assert models[name]["status"] == "ok"
        assert models[name]["populate_error"] == error
    assert models["LookupExits"]["lookup_error"] == "SystemExit: 0"
    assert models["LookupExits"]["cached_ids"] == 3
    assert models["Plain"]["status"] == "ok" and models["Plain"]["cached_keys"] == 3
    # argparse printed its usage: on stderr, never into the JSON document.
    assert "unrecognized arguments: --no-such-option" in result.stderr
    assert document["ok"] is False
    cases = junit.read_text()
    for name in [m.__name__ for m in hostile.MODELS]:
        assert f'name="{name}"' in cases


def test_check_for_people_lists_each_models_exit(hostile_url):
    result = invoke("check", *POPULATE_ERRORS, "LookupExits", "Plain", "--models", HOSTILE,
                    "--database-url", hostile_url)

    assert result.exit_code == 1, result.output
    for name, error in POPULATE_ERRORS.items():
        assert f"  {name}  populate_error  {error}\n" in result.stdout
    assert "  LookupExits  lookup_error  SystemExit: 0\n" in result.stdout
    assert "7 models, 21 rows" in result.stdout and ": 6 problems" in result.stdout


def test_python_api_reports_model_exits(hostile_url):
    report = fullcache_cli.check(hostile_url, hostile, list(POPULATE_ERRORS) + ["LookupExits", "Plain"])

    assert not report.ok
    errors = {m.model: m.populate_error for m in report.models}
    assert {name: errors[name] for name in POPULATE_ERRORS} == POPULATE_ERRORS
    assert errors["Plain"] is None
    assert {p.model for p in report.problems()} == set(POPULATE_ERRORS) | {"LookupExits"}


def test_lookup_whose_lookup_path_exits(hostile_url):
    result = invoke("lookup", "LookupExits", "LookupExits-1", "--models", HOSTILE, "--database-url", hostile_url,
                    "--json")

    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["found"] is False and document["error"] == "SystemExit: 0"


def test_composite_primary_key_with_null(hostile_url):
    result = run("check", "Composite", "Plain", "--models", HOSTILE, "--database-url", hostile_url, "--json")
    code, document = result.exit_code, json.loads(result.stdout)

    assert code == 1
    composite = by_model(document)["Composite"]
    assert composite["status"] == "ok", composite["error"]
    assert composite["rows"] == 4 and composite["cached_keys"] == 1
    assert composite["key_errors"] == COMPOSITE_KEY_ERRORS
    assert by_model(document)["Plain"]["status"] == "ok"

    report = fullcache_cli.check(hostile_url, hostile, ["Composite"])
    assert [(e.id, e.error) for e in report.models[0].key_errors] == [
        (tuple(e["id"]), e["error"]) for e in COMPOSITE_KEY_ERRORS
    ]


def test_discovery_passes_by_what_raises_on_attribute_access(hostile_url):
    result = run("models", "--models", HOSTILE, "--database-url", hostile_url, "--json")

    assert result.exit_code == 0, result.output
    names = [m["model"] for m in json.loads(result.stdout)["models"]]
    assert names == [m.__name__ for m in hostile.MODELS]
    assert "Loud" not in names
    assert [m.model for m in fullcache_cli.warm(hostile_url, hostile, ["Plain"]).models] == ["Plain"]


def test_keys_no_lookup_can_find_are_problems(hostile_url):
    result = run("check", "NanKey", "ShiftyKey", "Plain", "--models", HOSTILE, "--database-url", hostile_url,
                 "--json")

    assert result.exit_code == 1, result.output
    models = by_model(json.loads(result.stdout))
    assert models["NanKey"]["unreachable_keys"] == [
        {"key": "nan", "id": 2, "error": "the key is not equal to itself (NaN): no lookup can find it"},
        {"key": "nan", "id": 3, "error": "the key is not equal to itself (NaN): no lookup can find it"},
    ]
    assert models["ShiftyKey"]["unreachable_keys"] == [
        {"key": "Shifty('ShiftyKey-2')", "id": 2,
         "error": "the key's hash changes each time it is computed: no lookup can find it"},
    ]
    assert models["Plain"]["unreachable_keys"] == []
    # What the report says is so: by_cache_key finds neither.
    session_report = fullcache_cli.check(hostile_url, hostile, ["NanKey", "ShiftyKey"])
    kinds = [(p.model, p.kind, p.ids) for p in session_report.problems()]
    assert kinds == [("NanKey", "unreachable_key", [2]), ("NanKey", "unreachable_key", [3]),
                     ("ShiftyKey", "unreachable_key", [2])]
    assert math.isnan(session_report.problems()[0].key)


def test_unreachable_keys_for_people_and_allowed(hostile_url):
    result = run("check", "NanKey", "--models", HOSTILE, "--database-url", hostile_url)
    assert result.exit_code == 1
    assert "  NanKey  unreachable_key  ids 2  key nan  the key is not equal to itself (NaN)" in result.stdout

    allowed = run("check", "NanKey", "--models", HOSTILE, "--database-url", hostile_url,
                  "--allow", "unreachable_key")
    assert allowed.exit_code == 0, allowed.output


def test_status_ok_never_comes_with_an_error(hostile_url):
    result = invoke("warm", "--models", HOSTILE, "--database-url", hostile_url, "--json")

    models = by_model(json.loads(result.stdout))
    for model in models.values():
        assert model["status"] != "ok" or model["error"] is None, model
    partial = models["Partial"]
    assert partial["status"] == "error"
    assert partial["error"] == (
        "rows that populate did not load cannot be read: RuntimeError: rows of Partial cannot be loaded any more"
    )
    assert result.exit_code == 1


def test_verify_reports_every_model_whatever_their_code_raises(hostile_url):
    """verify populates reset models with their own code: what that code
    raises is the model's populate error, and the run goes on to the rest."""
    result = run("verify", "--models", HOSTILE, "--database-url", hostile_url, "--json")

    document = json.loads(result.stdout)
    models = by_model(document)
    assert {name: models[name]["populate_error"] for name in POPULATE_ERRORS} == POPULATE_ERRORS
    assert all(models[name]["populated"] for name in POPULATE_ERRORS)
    assert models["Plain"]["status"] == "ok" and models["Plain"]["drift"] is False
    assert len(document["models"]) == len(hostile.MODELS)
    assert result.exit_code == 1, result.output
