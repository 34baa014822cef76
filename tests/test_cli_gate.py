"""check as a CI gate: the findings in the JSON, the github and markdown
formats, JUnit, baselines, per-model allow rules, the per-model limit and
the summary for assertions, on the planted app (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import fullcache_cli
from tests.apps import planted
from tests.helpers import PLANTED, invoke, run

KINDS_OF = {
    "SeedGenre": ["collision"],
    "FcTag": ["key_error"],
    "FcShelf": ["key_error", "key_error"],
    "FcLabel": ["none_key"],
    "FcSetting": ["merge_failure"],
    "FcMissing": ["unreadable"],
}


def check(url, *args, env=None):
    return run("check", *args, "--models", PLANTED, "--database-url", url, env=env)


def check_json(url, *args):
    result = check(url, *args, "--json")
    return result.exit_code, json.loads(result.stdout)


def test_findings_name_every_problem_with_the_allowed_ones(planted_url):
    code, document = check_json(planted_url, *KINDS_OF, "--allow", "none_key", "--max-warm-seconds", "1000")
    assert code == 1
    findings = document["findings"]
    assert {f["model"] for f in findings} == set(KINDS_OF)
    for model, kinds in KINDS_OF.items():
        assert [f["kind"] for f in findings if f["model"] == model] == kinds
    assert {"model": "SeedGenre", "kind": "collision", "ids": [1, 3], "key": "Fiction", "error": None,
            "allowed": False, "known": False} in findings
    label = next(f for f in findings if f["model"] == "FcLabel")
    assert (label["ids"], label["allowed"], label["error"]) == ([1, 2], True, "rows share the key None")
    assert next(f for f in findings if f["model"] == "FcMissing")["error"].startswith("table 'fc_missing' cannot be read")
    # The count of problems leaves the allowed one out; existing fields stay.
    assert document["problems"] == len(findings) - 1 and document["ok"] is False
    assert document["allowed"] == ["none_key"]
    assert document["thresholds"] == {"max_warm_seconds": 1000.0, "max_growth": None}
    assert document["version"] == fullcache_cli.__version__
    assert document["seconds"] > 0 and document["baseline"] is None
    assert {"schema", "database", "models"} <= set(document)


def test_a_slow_model_is_a_finding(planted_url):
    code, document = check_json(planted_url, "FcFormat", "--max-warm-seconds", "0")
    assert code == 1
    (slow,) = document["findings"]
    assert (slow["model"], slow["kind"]) == ("FcFormat", "slow")
    assert "over the limit of 0 s" in slow["error"]


def test_allow_a_kind_for_one_model_only(planted_url):
    assert check(planted_url, "SeedGenre", "FcGenre", "--allow", "FcGenre:collision").exit_code == 1
    code, document = check_json(planted_url, "SeedGenre", "FcGenre", "--allow", "FcGenre:collision")
    assert [(f["model"], f["allowed"]) for f in document["findings"]] == [("SeedGenre", False), ("FcGenre", True)]
    both = check(planted_url, "SeedGenre", "FcGenre", "--allow", "FcGenre:collision", "--allow", "SeedGenre:collision")
    assert both.exit_code == 0


def test_allow_rules_are_checked(planted_url):
    bad_kind = invoke("check", "--allow", "FcGenre:colision", "--models", PLANTED, "--database-url", planted_url)
    assert bad_kind.exit_code == 2 and "names no kind of problem" in bad_kind.stderr
    no_model = invoke("check", "--allow", ":collision", "--models", PLANTED, "--database-url", planted_url)
    assert no_model.exit_code == 2 and "names no model before ':'" in no_model.stderr
    bad_model = invoke("check", "--allow", "FcGenr:collision", "--models", PLANTED, "--database-url", planted_url)
    assert bad_model.exit_code == 2
    assert "names no cached model: did you mean 'FcGenre'?" in bad_model.stderr
    assert "Traceback" not in bad_model.output


def test_github_format_annotates_each_problem(planted_url, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    result = check(
        planted_url, "SeedGenre", "FcTag", "FcLabel", "--format", "github", "--allow", "none_key",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "::error title=fullcache key_error%3A FcTag::FcTag key_error ids 2 TypeError: unhashable type: 'list'"
    assert lines[1] == "::error title=fullcache collision%3A SeedGenre::SeedGenre collision ids 1, 3 key Fiction"
    assert len(lines) == 3 and lines[2].startswith("fullcache: 3 models, 10 rows")
    written = summary.read_text()
    assert written.startswith("# earlier step\n## fullcache check failed: 2 problems")  # appended
    assert "| FcTag | 3 | 2 | 0 | 1 | 0 |" in written and "### Allowed (1)" in written


def test_github_escapes_data_and_properties():
    from fullcache_cli.render import github_data, github_property

    assert github_data("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext: a,b"
    assert github_property("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext%3A a%2Cb"
    assert github_data("\x1b[31mred") == "\\x1b[31mred"  # a terminal escape is spelled out


def test_markdown_format(planted_url):
    result = check(planted_url, "SeedGenre", "FcMissing", "FcFormat", "--format", "markdown")
    assert result.exit_code == 1
    text = result.stdout
    assert text.startswith("## fullcache check failed: 2 problems\n")
    assert "| Model | Rows | Keys | Collisions | Key errors | Merge fails | Warm | Memory | Status |" in text
    assert "| FcFormat | 3 | 3 | 0 | 0 | 0 |" in text and "✅ ok |" in text
    assert "- **SeedGenre** collision ids 1, 3 key Fiction" in text
    assert "- **FcMissing** unreadable table 'fc\\_missing' cannot be read" in text


def test_markdown_escapes_what_the_database_says():
    from fullcache_cli.render import markdown_text

    assert markdown_text("a|b *c*\n<script>") == "a\\|b \\*c\\* \\<script\\>"


def test_junit_error_case_for_a_model_not_read(planted_url, tmp_path):
    path = tmp_path / "fullcache.xml"
    result = check(planted_url, "FcGenre", "FcFormat", "FcMissing", "--junit-xml", str(path))
    assert result.exit_code == 1
    suite = ET.parse(path).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite}
    assert cases["FcGenre"].find("failure") is not None and cases["FcGenre"].find("error") is None
    error = cases["FcMissing"].find("error")
    assert error is not None and cases["FcMissing"].find("failure") is None
    assert error.get("type") == "unreadable" and "fc_missing" in error.get("message")
    assert len(list(cases["FcFormat"])) == 0


def test_junit_written_on_exit_2(planted_url, tmp_path):
    path = tmp_path / "fullcache.xml"
    result = invoke("check", "Nope", "--models", PLANTED, "--database-url", planted_url, "--junit-xml", str(path))
    assert result.exit_code == 2
    suite = ET.parse(path).getroot()
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures")) == ("1", "1", "0")
    assert "unknown model 'Nope'" in suite.find("testcase/error").get("message")
    missing = invoke("check", "--models", "no_such_models_module", "--junit-xml", str(path))
    assert missing.exit_code == 2
    assert "no_such_models_module" in ET.parse(path).getroot().find("testcase/error").get("message")
    usage = invoke("check", "--allow", "colision", "--junit-xml", str(path), "--models", PLANTED)
    assert usage.exit_code == 2
    assert "'colision' names no kind of problem" in ET.parse(path).getroot().find("testcase/error").get("message")


def test_write_baseline_then_only_new_problems_fail(planted_url, tmp_path):
    baseline = tmp_path / "fullcache-baseline.json"
    names = ("SeedGenre", "FcTag", "FcShelf", "FcMissing")
    adopt = check(planted_url, *names, "--write-baseline", str(baseline))
    assert adopt.exit_code == 0, adopt.output  # what is found today is accepted
    assert "5 known problems from the baseline" in adopt.stdout
    written = json.loads(baseline.read_text())
    assert written["schema"] == "fullcache.baseline/1" and len(written["findings"]) == 5

    assert check(planted_url, *names, "--baseline", str(baseline)).exit_code == 0
    # A new problem fails, and is the one named.
    result = check(planted_url, *names, "FcSetting", "--baseline", str(baseline))
    assert result.exit_code == 1
    assert "Problems (1)\n  FcSetting  merge_failure  ids 2" in result.stdout
    code, document = check_json(planted_url, *names, "FcSetting", "--baseline", str(baseline))
    assert [f["model"] for f in document["findings"] if not f["known"]] == ["FcSetting"]
    assert document["baseline"]["known"] == 5 and document["problems"] == 1


def test_a_previous_json_report_is_a_baseline(planted_url, tmp_path):
    report = tmp_path / "report.json"
    report.write_text(check(planted_url, "SeedGenre", "FcTag", "--json").stdout)
    assert check(planted_url, "SeedGenre", "FcTag", "--baseline", str(report)).exit_code == 0
    # An older report without findings: they are found again from its models.
    document = json.loads(report.read_text())
    del document["findings"]
    report.write_text(json.dumps(document))
    assert check(planted_url, "SeedGenre", "FcTag", "--baseline", str(report)).exit_code == 0
    assert check(planted_url, "SeedGenre", "FcTag", "FcGenre", "--baseline", str(report)).exit_code == 1


def test_baseline_matches_by_key_and_ids_not_by_message(tmp_path):
    from fullcache_cli.baseline import Baseline, apply_baseline
    from fullcache_cli.reports import Collision, ModelReport, RowError, WarmReport

    def report(kept, key_error_id, message):
        model = ModelReport("Genre", "genres", "fullcache", "x.Mixin", rows=9)
        model.collisions = [Collision(("a", 1), [1, 3, kept], 1)]
        model.key_errors = [RowError(key_error_id, message)]
        return WarmReport("sqlite://", [model])

    then = Baseline("b.json", [p.to_json() for p in report(5, 2, "ValueError: old").findings()])
    # The same key shared by one more row, the same row's error reworded: known.
    now = apply_baseline(report(7, 2, "ValueError: new wording"), then)
    assert now.ok, now.summary()
    # Another row's key error: new.
    other = apply_baseline(report(5, 4, "ValueError: old"), then)
    assert [(p.kind, p.ids) for p in other.problems()] == [("key_error", [4])]
    assert [f["ids"] for f in other.baseline.fixed] == [[2]]


def test_baseline_errors_are_one_line(planted_url, tmp_path):
    args = ("--models", PLANTED, "--database-url", planted_url)
    missing = invoke("check", "--baseline", str(tmp_path / "nope.json"), *args)
    assert missing.exit_code == 2 and "does not exist: write one with 'fullcache check --write-baseline" in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = invoke("check", "--baseline", str(broken), *args)
    assert result.exit_code == 2 and "is not JSON" in result.stderr and "Traceback" not in result.output
    growth = invoke("check", "--max-growth", "2", *args)
    assert growth.exit_code == 2 and "--max-growth compares with a baseline" in growth.stderr


def test_max_growth_fails_a_model_that_grew(planted_url, tmp_path):
    baseline = tmp_path / "baseline.json"
    assert check(planted_url, "FcFormat", "--write-baseline", str(baseline)).exit_code == 0
    document = json.loads(baseline.read_text())
    document["models"][0]["warm_seconds"] = 0.0001
    document["models"][0]["memory_bytes"] = 10
    baseline.write_text(json.dumps(document))
    # Tiny figures are noise: a table this small never "grows".
    assert check(planted_url, "FcFormat", "--baseline", str(baseline), "--max-growth", "2").exit_code == 0
    from fullcache_cli.baseline import Baseline, apply_baseline
    from fullcache_cli.reports import ModelReport, WarmReport

    model = ModelReport("FcFormat", "fc_formats", "fullcache", "m", rows=3, warm_seconds=0.5, memory_bytes=10**6)
    grown = apply_baseline(
        WarmReport("sqlite://", [model]),
        Baseline("b", [], {"FcFormat": {"warm_seconds": 0.1, "memory_bytes": 10**6}}),
        max_growth=3,
    )
    (problem,) = grown.problems()
    assert problem.kind == "growth" and problem.error.startswith("warm time grew 5.0x: 0.500 s, baseline 0.100 s")
    # Off unless asked.
    assert apply_baseline(WarmReport("sqlite://", [model]), Baseline("b", [], {"FcFormat": {"warm_seconds": 0.1}})).ok


def test_at_most_limit_problems_per_model(database_url):
    from tests.apps import big
    from tests.helpers import filled

    filled(database_url, lambda engine: big.fill(engine, 300, 3))
    result = run("check", "--models", "tests.apps.big", "--database-url", database_url, "--limit", "5")
    assert result.exit_code == 1
    shown = [line for line in result.stdout.splitlines() if line.startswith("  Big  collision")]
    assert len(shown) == 3  # three keys, three collisions
    keyed = run("check", "--models", "tests.apps.big", "--database-url", database_url, "--limit", "2")
    assert "… and 1 more problem of Big (raise --limit, or --json for all)" in keyed.stdout
    assert "1 model, 300 rows" in keyed.stdout and "3 problems" in keyed.stdout


def test_summary_is_a_paragraph_for_assertions(planted_url):
    report = fullcache_cli.check(planted_url, planted, ["SeedGenre", "FcTag", "FcLabel"], allow=["none_key"])
    assert not report.ok
    text = report.summary()
    assert str(report) == text and "\n" not in text
    assert text.startswith("fullcache: 3 models, 10 rows (")
    assert "2 problems: FcTag key_error ids 2 TypeError: unhashable type: 'list'; SeedGenre collision ids 1, 3 key Fiction" in text
    assert text.endswith("(1 allowed).")
    clean = fullcache_cli.check(planted_url, planted, ["FcFormat"])
    assert clean.ok and clean.summary().endswith(": no problems.")


def test_warm_leaves_the_applications_statistics_alone(planted_url):
    def counted():
        stats = planted.FcFormat.cache_stats()
        return stats.hits, stats.misses, stats.merges, stats.merge_failures

    planted.reset_all()
    before, populates = counted(), planted.FcFormat.cache_stats().populates
    report = fullcache_cli.warm(planted_url, planted, ["FcFormat"])
    assert report.models[0].lookups is not None  # lookups were timed
    assert counted() == before
    assert planted.FcFormat.cache_stats().populates == populates + 1  # the caches it filled are the application's
    # The application's own lookups still count, on the hit path too.
    with fullcache_cli.read_only_session(planted_url) as session:
        assert planted.FcFormat.by_id(session, 1) is not None
        assert planted.FcFormat.by_id(session, 1) is not None
    hits, misses, merges, failures = counted()
    assert (hits - before[0], merges - before[2]) == (2, 1)


def test_the_library_refuses_an_unknown_kind(planted_url):
    import pytest

    from fullcache_cli.errors import UsageError

    with pytest.raises(UsageError, match="'FcGenre:colision' names no kind of problem"):
        fullcache_cli.check(planted_url, planted, ["FcGenre"], allow=["FcGenre:colision"])
