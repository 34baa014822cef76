"""fullcache models: discovery of cached models, their mixins and rows."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.helpers import by_model, fill_own_app, fill_sample, run, run_json


def test_models_lists_exactly_the_cached_models_of_an_own_mixin_app(database_url):
    url = fill_own_app(database_url)
    code, document = run_json("models", "--models", "tests.apps.own_app", "--database-url", url)
    assert code == 0
    assert document["schema"] == "fullcache.models/1"
    assert [m["model"] for m in document["models"]] == ["SeedFormat", "Publisher", "Volume"]
    models = by_model(document)
    assert models["Publisher"] == {
        "model": "Publisher",
        "table": "publishers",
        "mixin": "own",
        "mixin_class": "tests.apps.seed_cache.HasFullTableCache",
        "shared_cache": None,
        "rows": 5,
        "error": None,
    }
    assert models["Volume"]["rows"] == 7 and models["SeedFormat"]["rows"] == 1


def test_models_people_output(database_url):
    url = fill_sample(database_url)
    result = run("models", "--database-url", url)
    assert result.exit_code == 0
    for name in ("DataSource", "Genre", "DeliveryMechanism", "Library", "ConfigurationSetting"):
        assert name in result.stdout
    assert "ExternalIntegration" not in result.stdout  # mapped, but not cached
    assert "fullcache" in result.stdout


def test_models_by_path_and_env(database_url, tmp_path, monkeypatch):
    url = fill_own_app(database_url)
    module = tmp_path / "app_models.py"
    module.write_text(
        textwrap.dedent(
            """
            from tests.apps.own_app import Publisher, Volume
            """
        )
    )
    code, document = run_json("models", "--models", str(module), "--database-url", url)
    assert code == 0 and [m["model"] for m in document["models"]] == ["Publisher", "Volume"]
    monkeypatch.setenv("FULLCACHE_MODELS", "tests.apps.own_app")
    monkeypatch.setenv("FULLCACHE_DATABASE_URL", url)
    code, document = run_json("models")
    assert code == 0 and len(document["models"]) == 3


def test_installed_command_runs_the_sample_from_any_folder(tmp_path):
    """The console script and the sample work outside the checkout, with the
    sample database kept out of the working folder."""
    env = {
        "PATH": str(__import__("pathlib").Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
    }
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "fullcache_cli", "models", "--json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "DeliveryMechanism" in result.stdout
    assert list(work.iterdir()) == []  # nothing left in the working folder
    assert list((tmp_path / "home" / ".cache" / "fullcache").glob("sample-*.sqlite3"))
