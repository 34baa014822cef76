"""Bad models modules and model names: a one-line error naming the module
(or model) and the fix, exit 2, no traceback unless --traceback.

Loading happens before the database is touched; each test still runs
against both backends, with a real database behind the URL.
"""

from __future__ import annotations

import json

import pytest
from fullcache_cli.errors import ConfigError, ModelsNotFound, UsageError
from fullcache_cli.loading import load_models, require_models, select_models
from tests.helpers import PLANTED, invoke, one_line_error

HOW = "name a models module: a dotted name importable from the current folder, or a path to a .py file (--models or FULLCACHE_MODELS)"

# Every command loads the models module the same way.
COMMANDS = [["warm"], ["check"], ["models"], ["inspect", "FcGenre"], ["lookup", "FcGenre", "Fiction"]]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """The current folder is a fresh one (dotted names are imported from it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_dotted_module_not_importable(database_url, in_tmp, command):
    result = invoke(*command, "--models", "myapp.no_such_models", "--database-url", database_url)
    one_line_error(result, 2, "models module 'myapp.no_such_models' not found from", str(in_tmp), HOW)


def test_dotted_module_that_imports_a_missing_package(database_url, in_tmp):
    """Not "not found": the module is there, its import fails."""
    (in_tmp / "needs_dependency_models.py").write_text("import fullcache_test_no_such_dependency\n")
    result = invoke("warm", "--models", "needs_dependency_models", "--database-url", database_url)
    one_line_error(
        result, 2, "models module 'needs_dependency_models' raised at import",
        "ModuleNotFoundError: No module named 'fullcache_test_no_such_dependency'", "fix the module",
    )


def test_py_path_missing(database_url, tmp_path):
    path = tmp_path / "models.py"
    result = invoke("warm", "--models", str(path), "--database-url", database_url, "--json")
    one_line_error(result, 2, f"models file '{path}' does not exist", HOW)


def test_py_path_that_is_a_folder(database_url, tmp_path):
    folder = tmp_path / "myapp"
    folder.mkdir()
    result = invoke("warm", "--models", str(folder), "--database-url", database_url, "--json")
    one_line_error(result, 2, f"models path '{folder}' is a folder, not a .py file", HOW)


def test_syntax_error(database_url, tmp_path):
    path = tmp_path / "syntax_error_models.py"
    path.write_text("from sqlalchemy.orm import DeclarativeBase\n\nclass Base(DeclarativeBase:\n    pass\n")
    result = invoke("check", "--models", str(path), "--database-url", database_url)
    one_line_error(result, 2, f"models module '{path}' has a syntax error at {path}:3", "fix it")


@pytest.mark.parametrize("as_path", [True, False], ids=["path", "dotted"])
def test_module_that_raises_at_import_shows_its_message(database_url, in_tmp, as_path):
    name = f"raising_models_{'path' if as_path else 'dotted'}"
    path = in_tmp / f"{name}.py"
    path.write_text(
        "import os\n"
        "raise KeyError('APP_SETTINGS is not set: export it before importing the models')\n"
    )
    spec = str(path) if as_path else name
    result = invoke("warm", "--models", spec, "--database-url", database_url)
    one_line_error(
        result, 2, f"models module '{spec}' raised at import",
        "KeyError: 'APP_SETTINGS is not set: export it before importing the models'", "fix the module",
    )
    # --traceback adds the stack, down to the module's own line; the one
    # line still ends it.
    result = invoke("warm", "--models", spec, "--database-url", database_url, "--traceback")
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert f'File "{path}", line 2, in <module>' in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: models module '{spec}' raised at import")


def test_module_that_exits_at_import(database_url, tmp_path):
    path = tmp_path / "exiting_models.py"
    path.write_text("import sys\nsys.exit('usage: run me with --settings')\n")
    result = invoke("warm", "--models", str(path), "--database-url", database_url)
    one_line_error(result, 2, "raised at import: SystemExit: usage: run me with --settings")


UNCACHED = (
    "from sqlalchemy import Integer\n"
    "from sqlalchemy.orm import DeclarativeBase, mapped_column\n\n"
    "class Base(DeclarativeBase):\n    pass\n\n"
    "class Book(Base):\n"
    "    __tablename__ = 'books'\n"
    "    id = mapped_column(Integer, primary_key=True)\n"
)


def test_module_with_no_cached_models_says_what_was_looked_for(database_url, tmp_path):
    stem = f"uncached_models_{abs(hash(str(tmp_path)))}"
    first, second = tmp_path / "one" / f"{stem}.py", tmp_path / "two" / f"{stem}.py"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text(UNCACHED)
    result = invoke("warm", "--models", str(first), "--database-url", database_url)
    one_line_error(
        result, 2, f"no cached models in {stem!r}",
        "looked for mapped classes with populate_cache, cache_key, _cache, _id_cache, RESET",
        "HasFullTableCache",
    )
    # A second file of the same name is imported under a private name: the
    # message still names it as given.
    result = invoke("warm", "--models", str(second), "--database-url", database_url)
    one_line_error(result, 2, f"no cached models in '{second}'")


def test_no_database_url_anywhere(monkeypatch):
    for name in ("FULLCACHE_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    result = invoke("warm", "--models", PLANTED)
    one_line_error(result, 2, "no database URL", "--database-url", "FULLCACHE_DATABASE_URL", "DATABASE_URL")


@pytest.mark.parametrize("command", [["warm"], ["check"], ["inspect"], ["lookup"]], ids=lambda c: c[0])
def test_unknown_model_name_suggests_the_closest(planted_url, command):
    key = ["Fiction"] if command == ["lookup"] else []
    result = invoke(*command, "FcGenres", *key, "--models", PLANTED, "--database-url", planted_url)
    one_line_error(result, 2, "unknown model 'FcGenres'", "did you mean 'FcGenre'?")

    result = invoke(*command, "seedgenre", *key, "--models", PLANTED, "--database-url", planted_url)
    one_line_error(result, 2, "unknown model 'seedgenre'", "did you mean 'SeedGenre'?")


def test_unknown_model_name_with_nothing_close_lists_them(planted_url):
    result = invoke("warm", "Xylophone", "--models", PLANTED, "--database-url", planted_url, "--json")
    line = one_line_error(result, 2, "unknown model 'Xylophone'", "run 'fullcache models' to list them")
    assert "SeedGenre" in line and "FcFormat" in line


def test_a_good_module_still_works_after_the_bad_ones(planted_url):
    """No failed import leaves anything behind that spoils the next."""
    result = invoke("warm", "FcFormat", "--models", PLANTED, "--database-url", planted_url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["models"][0]["cached_ids"] == 3


# -- the same through the library: its own exceptions, for the one boundary ----


def test_library_raises_its_own_exceptions(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_models("fullcache_test_no_such_models")
    (tmp_path / "empty_models.py").write_text("x = 1\n")
    with pytest.raises(ModelsNotFound, match="no cached models"):
        require_models(load_models(str(tmp_path / "empty_models.py")))
    models = require_models(load_models(PLANTED))
    with pytest.raises(UsageError, match="did you mean 'FcTag'"):
        select_models(models, ["FcTags"])
    assert ConfigError("x").exit_code == UsageError("x").exit_code == 2


def test_database_url_precedence(tmp_path, sample_url, monkeypatch):
    """--database-url, then FULLCACHE_DATABASE_URL, then DATABASE_URL, then
    the models module's DATABASE_URL: the first given is the one read."""
    missing = f"sqlite:///{tmp_path / 'nowhere' / 'missing.db'}"
    module = tmp_path / "urlmodels.py"
    module.write_text(f"from sample_models import *\nDATABASE_URL = {sample_url!r}\n")
    monkeypatch.chdir(tmp_path)
    for name in ("FULLCACHE_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)

    def reads(*args: str, env: dict) -> bool:
        result = invoke("models", "--models", str(module), *args, env=env)
        return result.exit_code == 0

    assert reads(env={})  # the module's own URL
    assert not reads(env={"DATABASE_URL": missing})
    assert reads(env={"FULLCACHE_DATABASE_URL": sample_url, "DATABASE_URL": missing})
    assert not reads(env={"FULLCACHE_DATABASE_URL": missing, "DATABASE_URL": sample_url})
    assert reads("--database-url", sample_url, env={"FULLCACHE_DATABASE_URL": missing, "DATABASE_URL": missing})
