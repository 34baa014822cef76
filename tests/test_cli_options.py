"""Options every command shares, and their defaults: where the database URL
comes from (--database-url, FULLCACHE_DATABASE_URL, DATABASE_URL, the models
module's DATABASE_URL, in that order), --allow given more than once, and
inspect's --limit."""

from __future__ import annotations

import json

from tests.apps import planted
from tests.helpers import PLANTED, planted_table, run


def test_the_database_url_comes_from_the_flag_then_the_environment_then_the_module(new_database_url, tmp_path):
    # Four databases told apart by their row counts: 1, 2, 3 and 4 rows.
    flag, fullcache_env, env, module_url = (
        planted_table(new_database_url(), planted.FcFormat, [dict(id=n, name=f"f{n}") for n in range(1, rows + 1)])
        for rows in (1, 2, 3, 4)
    )
    models = tmp_path / "url_models.py"
    models.write_text(f"from tests.apps.planted import FcFormat\n\nDATABASE_URL = {module_url!r}\n")
    both = {"FULLCACHE_DATABASE_URL": fullcache_env, "DATABASE_URL": env}
    for args, environment, rows, url in (
        (["--database-url", flag], both, 1, flag),
        ([], both, 2, fullcache_env),
        ([], {"FULLCACHE_DATABASE_URL": None, "DATABASE_URL": env}, 3, env),
        ([], {"FULLCACHE_DATABASE_URL": None, "DATABASE_URL": None}, 4, module_url),
    ):
        result = run("warm", "--models", str(models), "--json", *args, env=environment)
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert (document["database"], document["models"][0]["rows"]) == (url, rows), (args, environment)
    planted.reset_all()


def test_allow_is_repeatable(database_url):
    planted_table(database_url, planted.FcGenre, [dict(id=1, name="Fiction"), dict(id=2, name="Fiction")])
    planted_table(database_url, planted.FcLabel, [dict(id=1, name=None), dict(id=2, name=None)])
    args = ("check", "FcGenre", "FcLabel", "--models", PLANTED, "--database-url", database_url)
    assert run(*args, "--allow", "collision", "--allow", "none_key").exit_code == 0
    only_one = run(*args, "--allow", "collision")
    assert only_one.exit_code == 1
    assert "Problems (1)" in only_one.stdout and "FcLabel  none_key  ids 1, 2" in only_one.stdout
    assert run(*args, "--allow", "none_key").exit_code == 1
    planted.reset_all()


def test_inspect_shows_20_items_of_each_list_by_default(database_url):
    planted_table(database_url, planted.FcGenre, [dict(id=n, name=f"genre {n % 30}") for n in range(1, 91)])
    result = run("inspect", "FcGenre", "--models", PLANTED, "--database-url", database_url)
    assert result.exit_code == 0, result.output
    assert "Collisions (30)" in result.stdout
    assert "… and 10 more (raise --limit, or --json for all)" in result.stdout
    assert "Entries (first 20 of 30)" in result.stdout
    planted.reset_all()
