"""[tool.fullcache] in pyproject.toml, found from the current folder
upwards; flags over it; never a URL in it; and no false green when no
models module is named anywhere."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from fullcache_cli.config import load_settings
from fullcache_cli.errors import ConfigError
from tests.helpers import PLANTED, app_database, by_model, invoke, one_line_error, run

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with a sub-folder to run from; ``write(table)`` puts
    ``[tool.fullcache]`` in its pyproject.toml."""
    (tmp_path / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "src" / "deep")
    monkeypatch.syspath_prepend(REPOSITORY)  # tests.apps stays importable from elsewhere

    def write(table: str, name: str = "pyproject.toml") -> None:
        (tmp_path / name).write_text('[project]\nname = "app"\n\n[tool.fullcache]\n' + textwrap.dedent(table))

    write.root = tmp_path
    return write


def test_settings_are_found_from_a_sub_folder(project):
    project('''
        models = "tests.apps.planted"
        allow = ["none_key", "FcGenre:collision"]
        max-warm-seconds = 30
        baseline = "ci/fullcache-baseline.json"
        statement-timeout = 60
        model-timeout = 120
        database-url-env = "APP_DATABASE_URL"
    ''')
    settings = load_settings()
    assert settings.path == project.root / "pyproject.toml"
    assert settings.models == "tests.apps.planted"
    assert settings.allow == ("none_key", "FcGenre:collision")
    assert (settings.max_warm_seconds, settings.statement_timeout, settings.model_timeout) == (30.0, 60.0, 120.0)
    assert settings.baseline == str(project.root / "ci" / "fullcache-baseline.json")
    assert settings.database_url_env == "APP_DATABASE_URL"


def test_a_pyproject_without_the_table_is_passed_over(project, tmp_path):
    project('models = "tests.apps.planted"\n')
    (tmp_path / "src" / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    assert load_settings().models == "tests.apps.planted"


@pytest.mark.parametrize("table, words", [
    ('database-url = "postgresql://app:secret@db/app"\n', ["'database-url' holds a database URL", "database-url-env"]),
    ('database-url-env = "postgresql://app:secret@db/app"\n', ["holds a database URL"]),
    ('max-warm-seconds = "fast"\n', ["'max-warm-seconds' must be a positive number"]),
    ('model-timeout = 0\n', ["'model-timeout' must be a positive number"]),
    ('max_warm_seconds = 3\n', ["unknown key 'max_warm_seconds': did you mean 'max-warm-seconds'?"]),
    ('allow = ["colision"]\n', ["'allow' names no kind of problem in 'colision'"]),
    ('models = [1]\n', ["'models' must be a non-empty string"]),
])
def test_bad_settings_are_one_line_errors(project, table, words, database_url):
    project(table)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    for word in words:
        assert word in str(raised.value)
    assert "secret" not in str(raised.value)
    line = one_line_error(invoke("warm", "--database-url", database_url), 2, *words)
    assert "secret" not in line


def test_invalid_toml_is_named(project):
    (project.root / "pyproject.toml").write_text("[tool.fullcache\nmodels = 1\n")
    one_line_error(invoke("models"), 2, "pyproject.toml is not valid TOML")


def test_check_reads_its_settings_and_flags_override_them(project, planted_url, monkeypatch):
    monkeypatch.setenv("APP_DATABASE_URL", planted_url)
    monkeypatch.delenv("FULLCACHE_MODELS", raising=False)
    project('''
        models = "tests.apps.planted"
        allow = ["FcGenre:collision", "none_key"]
        database-url-env = "APP_DATABASE_URL"
    ''')
    result = run("check", "FcGenre", "FcLabel", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["allowed"] == ["FcGenre:collision", "none_key"]
    assert "Note:" not in result.stderr  # a models module was named
    # A flag replaces the file's list; a URL on the command line wins.
    assert run("check", "FcGenre", "--allow", "none_key").exit_code == 1
    assert run("check", "FcGenre", "--database-url", planted_url).exit_code == 0
    gone = invoke("check", "FcGenre", "--database-url", "sqlite:////nonexistent/folder/x.db")
    assert gone.exit_code != 0
    assert run("check", "FcGenre", "--max-warm-seconds", "0").exit_code == 1
    assert run("check", "FcGenre", "--models", PLANTED).exit_code == 0


def test_the_configured_variable_comes_before_database_url(project, planted_url, monkeypatch):
    monkeypatch.setenv("APP_DATABASE_URL", planted_url)
    monkeypatch.setenv("DATABASE_URL", "sqlite:////nonexistent/folder/x.db")
    project('models = "tests.apps.planted"\ndatabase-url-env = "APP_DATABASE_URL"\n')
    assert run("check", "FcFormat").exit_code == 0


def test_configured_timeouts_apply_and_a_flag_overrides_them(project, database_url, monkeypatch):
    """model-timeout stops a model whose code never ends (timed_out, the next
    model warmed); --model-timeout on the command line replaces it."""
    from tests.apps import slow

    monkeypatch.setenv("APP_DATABASE_URL", database_url)
    project('models = "tests.apps.slow"\nmodel-timeout = 1\ndatabase-url-env = "APP_DATABASE_URL"\n')
    with app_database(slow, database_url):
        result = run("check", "Sleeper", "Plain", "--json")
        assert result.exit_code == 1, result.output
        models = by_model(json.loads(result.stdout))
        assert models["Sleeper"]["timed_out"] == 1
        assert models["Plain"]["status"] == "ok" and models["Plain"]["cached_ids"] == 3
        flagged = by_model(json.loads(run("check", "Sleeper", "--model-timeout", "0.5", "--json").stdout))
        assert flagged["Sleeper"]["timed_out"] == 0.5


def test_configured_baseline_and_threshold(project, planted_url, monkeypatch):
    monkeypatch.setenv("APP_DATABASE_URL", planted_url)
    project('''
        models = "tests.apps.planted"
        baseline = "fullcache-baseline.json"
        max-warm-seconds = 1000
        database-url-env = "APP_DATABASE_URL"
    ''')
    missing = invoke("check", "FcGenre")
    one_line_error(missing, 2, "fullcache-baseline.json", "does not exist")
    path = str(project.root / "fullcache-baseline.json")
    assert run("check", "FcGenre", "--write-baseline", path).exit_code == 0
    result = run("check", "FcGenre", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["baseline"]["path"] == path and document["thresholds"]["max_warm_seconds"] == 1000


def test_the_sample_is_named_when_no_models_module_is(project, sample_url, monkeypatch):
    monkeypatch.delenv("FULLCACHE_MODELS", raising=False)
    result = run("check", "--database-url", sample_url, "--json")
    assert result.exit_code == 0
    note = [line for line in result.stderr.splitlines() if line.startswith("Note:")]
    assert len(note) == 1 and "built-in sample" in note[0] and "--models myapp.models" in note[0]
    json.loads(result.stdout)  # stdout is the report alone
    named = run("check", "--database-url", sample_url, "--models", "sample_models")
    assert "Note:" not in named.stderr
    from_env = run("check", "--database-url", sample_url, env={"FULLCACHE_MODELS": "sample_models"})
    assert "Note:" not in from_env.stderr


def test_a_bad_file_still_gets_its_junit_report_and_help(project, tmp_path):
    import xml.etree.ElementTree as ET

    project('max-warm-seconds = "fast"\n')
    junit = tmp_path / "fullcache.xml"
    one_line_error(invoke("check", "--junit-xml", str(junit)), 2, "'max-warm-seconds' must be a positive number")
    assert "max-warm-seconds" in ET.parse(junit).getroot().find("testcase/error").get("message")
    assert run("check", "--help").exit_code == 0
