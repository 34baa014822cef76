"""fullcache warm and check: planted problems with known answers, the JSON
contract and the exit codes, on SQLite and PostgreSQL, for models on
fullcache's mixin (Fc*) and on an application's own copy of the seed's (Seed*)."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET

import fullcache_cli
from tests.apps import planted
from tests.helpers import PLANTED, by_model, run, run_json

DIRTY = (
    "InvalidRequestError: merge() with load=False option does not support objects marked as 'dirty'.  "
    "flush() all changes on mapped instances before merging with load=False."
)


def warm_json(url, *names):
    return run_json("warm", *names, "--models", PLANTED, "--database-url", url)


def test_warm_reports_every_planted_problem_exactly(planted_url):
    code, document = warm_json(planted_url)
    assert code == 1  # the *Missing models could not be read
    models = by_model(document)

    # Collisions: the seed keeps the last row read, fullcache the lowest id.
    assert models["SeedGenre"]["collisions"] == [{"key": "Fiction", "ids": [1, 3], "kept_id": 3, "differs": {}}]
    assert models["FcGenre"]["collisions"] == [{"key": "Fiction", "ids": [1, 3], "kept_id": 1, "differs": {}}]
    for name in ("SeedGenre", "FcGenre"):
        assert (models[name]["rows"], models[name]["cached_ids"], models[name]["cached_keys"]) == (4, 4, 3)

    # An unhashable key: the seed drops the row from both caches; fullcache keeps it by id.
    unhashable = [{"id": 2, "error": "TypeError: unhashable type: 'list'"}]
    assert models["SeedTag"]["key_errors"] == unhashable
    assert models["FcTag"]["key_errors"] == unhashable
    assert (models["SeedTag"]["cached_ids"], models["SeedTag"]["cached_keys"]) == (2, 2)
    assert (models["FcTag"]["cached_ids"], models["FcTag"]["cached_keys"]) == (3, 2)

    # A raising key: the seed's populate aborts on the first; every one is found anyway.
    raising = [
        {"id": 2, "error": "ValueError: bad shelf code '!S2'"},
        {"id": 4, "error": "ValueError: bad shelf code '!S4'"},
    ]
    assert models["SeedShelf"]["key_errors"] == raising
    assert models["SeedShelf"]["populate_error"] == "ValueError: bad shelf code '!S2'"
    assert (models["SeedShelf"]["cached_ids"], models["SeedShelf"]["cached_keys"]) == (0, 0)
    assert models["FcShelf"]["key_errors"] == raising
    assert models["FcShelf"]["populate_error"] is None
    assert (models["FcShelf"]["cached_ids"], models["FcShelf"]["cached_keys"]) == (5, 3)

    # None keys.
    assert models["SeedLabel"]["none_keys"] == [1, 2]
    assert models["FcLabel"]["none_keys"] == [1, 2]

    # cache_key() that changes its row leaves it dirty: it cannot be merged.
    for name in ("SeedSetting", "FcSetting"):
        assert models[name]["merge_failures"] == [{"id": 2, "error": DIRTY}]

    # A missing table is that model's error; the others are still reported.
    for name in ("SeedMissing", "FcMissing"):
        assert models[name]["status"] == "error"
        assert "cannot be read" in models[name]["error"] and "missing" in models[name]["error"]
        assert models[name]["rows"] is None

    for name in ("SeedFormat", "FcFormat"):
        model = models[name]
        assert model["status"] == "ok" and model["rows"] == 3 == model["cached_ids"] == model["cached_keys"]
        assert not (model["collisions"] or model["key_errors"] or model["none_keys"] or model["merge_failures"])
        assert model["lookups"]["samples"] == 3
    assert document["ok"] is False
    # 2 unreadable + 1 populate error + 6 key errors + 2 collisions + 2 none keys + 2 merge failures
    assert document["problems"] == 15


def test_warm_json_contract(planted_url):
    code, document = warm_json(planted_url, "FcFormat", "SeedGenre")
    assert code == 0
    assert document["schema"] == "fullcache.report/1"
    assert set(document) >= {"schema", "database", "models", "problems", "ok"}
    assert [m["model"] for m in document["models"]] == ["FcFormat", "SeedGenre"]
    fields = {
        "model", "table", "rows", "cached_ids", "cached_keys", "collisions", "none_keys", "key_errors",
        "populate_error", "merge_failures", "warm_seconds", "memory_bytes", "lookups",
    }
    classes = {"FcFormat": planted.FcFormat, "SeedGenre": planted.SeedGenre}
    for model in document["models"]:
        assert fields <= set(model)
        assert isinstance(model["warm_seconds"], float)
        # At least the two dicts and the objects themselves (the caches stay
        # warm after the command).
        cls = classes[model["model"]]
        floor = sys.getsizeof(cls._id_cache) + sys.getsizeof(cls._cache) + sum(
            sys.getsizeof(obj) + sys.getsizeof(obj.__dict__) for obj in cls._id_cache.values())
        assert model["memory_bytes"] >= floor
        # Every row's id, each looked up in the cache and in the database.
        lookups = model["lookups"]
        counts = {"samples", "first_hit_samples", "db_samples"}
        assert set(lookups) == counts | {
            "cache_p50_us", "cache_p99_us", "first_hit_p50_us", "first_hit_p99_us", "db_p50_us", "db_p99_us",
        }
        assert lookups["samples"] == lookups["first_hit_samples"] == lookups["db_samples"] == model["rows"]
        assert model["rows"] == len(cls._id_cache)
        assert all(isinstance(lookups[name], float) for name in lookups if name not in counts)
    assert by_model(document)["FcFormat"]["table"] == "fc_formats"
    assert document["problems"] == 1 and document["ok"] is False


def test_check_exit_codes(planted_url):
    assert run("check", "--models", PLANTED, "--database-url", planted_url).exit_code == 1
    clean = run("check", *planted.CLEAN, "--models", PLANTED, "--database-url", planted_url)
    assert clean.exit_code == 0, clean.output
    assert "no problems" in clean.stdout
    # warm reports problems but exits 0 when every model could be read.
    assert run("warm", "FcGenre", "--models", PLANTED, "--database-url", planted_url).exit_code == 0


def test_check_allow_and_max_warm_seconds(planted_url):
    args = ("--models", PLANTED, "--database-url", planted_url)
    assert run("check", "FcGenre", *args).exit_code == 1
    assert run("check", "FcGenre", "--allow", "collision", *args).exit_code == 0
    assert run("check", "FcLabel", "--allow", "none_key", *args).exit_code == 0
    slow = run("check", "FcFormat", "--max-warm-seconds", "0", "--json", *args)
    assert slow.exit_code == 1
    assert [finding["kind"] for finding in json.loads(slow.stdout)["findings"]] == ["slow"]
    people = run("check", "FcFormat", "--max-warm-seconds", "0", *args)
    assert "slow" in people.stdout and "over the limit of 0 s" in people.stdout


def test_check_junit_xml(planted_url, tmp_path):
    path = tmp_path / "fullcache.xml"
    result = run(
        "check", "FcGenre", "FcFormat", "--junit-xml", str(path), "--models", PLANTED, "--database-url", planted_url
    )
    assert result.exit_code == 1
    suite = ET.parse(path).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"FcGenre", "FcFormat"}
    failure = cases["FcGenre"].find("failure")
    assert failure is not None and "collision" in failure.text and "1, 3" in failure.text
    assert cases["FcFormat"].find("failure") is None


def test_warm_people_output_lists_problems(planted_url):
    result = run("warm", "SeedGenre", "SeedShelf", "--models", PLANTED, "--database-url", planted_url)
    assert result.exit_code == 0
    out = result.stdout
    assert "Problems (4)" in out
    assert "SeedGenre  collision  ids 1, 3  key Fiction" in out
    assert "SeedShelf  key_error  ids 4  ValueError: bad shelf code '!S4'" in out
    assert "SeedShelf  populate_error" in out
    assert "2 models, 9 rows" in out


def test_unknown_model_name_suggests_the_closest(planted_url):
    result = run("warm", "FcGenres", "--models", PLANTED, "--database-url", planted_url)
    assert result.exit_code == 2
    assert "unknown model 'FcGenres': did you mean 'FcGenre'?" in result.stderr
    assert "Traceback" not in result.output


def test_sample_warms_clean(sample_url):
    code, document = run_json("warm", "--database-url", sample_url)
    assert code == 0
    assert document["ok"] is True and document["problems"] == 0
    models = by_model(document)
    assert list(models) == ["DataSource", "Genre", "DeliveryMechanism", "Library", "ConfigurationSetting"]
    for model in models.values():
        assert model["rows"] == model["cached_ids"] == model["cached_keys"] > 10
        assert model["memory_bytes"] > 0 and model["lookups"]["samples"] > 0
    assert run("check", "--database-url", sample_url).exit_code == 0


def test_library_warm_and_check(planted_url):
    report = fullcache_cli.warm(planted_url, planted, ["FcGenre", "FcFormat"])
    assert [m.model for m in report.models] == ["FcGenre", "FcFormat"]
    assert all(0 < m.warm_seconds < report.seconds for m in report.models)
    assert report.models[0].collisions[0].ids == [1, 3]
    assert not report.ok and not report.unreadable
    # The caches stay warm for the application.
    assert planted.FcFormat._id_cache[2].name == "pdf"
    verdict = fullcache_cli.check(planted_url, [planted.FcGenre], allow=["collision"])
    assert verdict.ok


def test_library_warm_joins_an_application_session(planted_url):
    """warm(session) reads inside the application's transaction (it sees
    the rows the session flushed) and leaves the session as it was: the same
    transaction, still open, its pending and changed objects still there."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    engine = create_engine(planted_url)
    try:
        with Session(engine) as session:
            flushed = planted.FcFormat(id=10, name="flushed by the application")
            session.add(flushed)
            session.flush()
            changed = session.get(planted.FcFormat, 1)
            changed.name = "epub, renamed"
            pending = planted.FcFormat(id=11, name="pending in the application")
            session.add(pending)
            transaction, connection = session.get_transaction(), session.connection()

            report = fullcache_cli.warm(session, [planted.FcFormat])

            assert report.ok
            assert (report.models[0].rows, report.models[0].cached_ids) == (4, 4)  # the flushed row, not the pending
            assert session.get_transaction() is transaction and transaction.is_active
            assert session.connection() is connection and connection.in_transaction()
            assert list(session.new) == [pending]
            assert list(session.dirty) == [changed] and changed.name == "epub, renamed"
            assert flushed in session and session.get(planted.FcFormat, 10) is flushed
            session.commit()
        with engine.connect() as check:
            rows = check.execute(text("SELECT id, name FROM fc_formats ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [
            (1, "epub, renamed"), (2, "pdf"), (3, "audio"),
            (10, "flushed by the application"), (11, "pending in the application"),
        ]
    finally:
        engine.dispose()


def test_a_narrow_terminal_gets_the_columns_that_fit(database_url):
    """At 80 columns the warm table leaves out the least needed columns,
    says which, and still fits; a wide one shows every column."""
    import io

    from rich.console import Console

    import fullcache_cli
    import sample_models
    from fullcache_cli.render import Output, render
    from tests.helpers import fill_sample

    report = fullcache_cli.warm(fill_sample(database_url), sample_models)

    def rendered(width: int) -> str:
        out = io.StringIO()
        console = Console(file=out, width=width, highlight=False, color_system=None)
        render(report, Output(console, Console(file=io.StringIO()), as_json=False))
        return out.getvalue()

    narrow = rendered(80)
    assert max(len(line) for line in narrow.splitlines()) <= 80, narrow
    assert "ConfigurationSetting" in narrow and "Collisions" in narrow and "Status" in narrow
    assert "Too narrow for Ids," in narrow and "DB p50" in narrow
    assert "…" not in narrow  # nothing cut short

    wide = rendered(200)
    assert "Too narrow" not in wide
    for column in ("Ids", "Keys", "None keys", "Merge fails", "Memory", "Hit p50", "DB p50"):
        assert column in wide
