"""What fullcache prints is safe and whole, whatever the data and the models'
code hold: values that a terminal would act upon shown as text (JSON and
XML carry them exactly), --junit-xml checked before the warm.
tests/apps/outputs.py holds the models; test_cli_masking.py has the
passwords, test_cli_stdout.py runs the console script itself for what only a
real process shows.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import fullcache_cli
from tests.apps import outputs
from tests.helpers import fill_planted, invoke, one_line_error, run

OUTPUTS = "tests.apps.outputs"
PLANTED = "tests.apps.planted"


# -- --junit-xml, checked before the warm -------------------------------------------


def test_junit_xml_into_a_missing_folder_is_made(database_url, tmp_path):
    fill_planted(database_url)
    path = tmp_path / "reports" / "ci" / "fullcache.xml"
    result = run("check", "FcGenre", "--models", PLANTED, "--database-url", database_url, "--junit-xml", str(path))

    assert result.exit_code == 1, result.output
    assert ET.fromstring(path.read_text()).get("tests") == "1"


def test_junit_xml_to_an_unwritable_path_fails_before_warming(database_url, tmp_path):
    fill_planted(database_url)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = invoke("check", "--models", PLANTED, "--database-url", database_url,
                    "--junit-xml", str(blocker / "fullcache.xml"))

    line = one_line_error(result, 2, f"JUnit report {str(blocker / 'fullcache.xml')!r} cannot be written",
                          "--junit-xml")
    assert "unexpected" not in line
    assert blocker.read_text() == "not a folder"


# -- terminal injection: data is shown, never obeyed -----------------------------------


def test_terminal_text_shows_what_a_terminal_would_obey():
    from fullcache_cli.render import terminal_text

    assert terminal_text("\x1b[2J") == "\\x1b[2J"
    assert terminal_text("a\r\nb\tc") == "a\\r\\nb\\tc"
    assert terminal_text("[link=http://evil.example]click[/link]") == "\\[link=http://evil.example]click\\[/link]"
    assert terminal_text("\u202eevil\udcff") == "\\u202eevil\\udcff"
    assert terminal_text("café 3 µs") == "café 3 µs"


def test_ids_errors_and_names_from_data_are_escaped(outputs_url, tmp_path):
    junit = tmp_path / "fullcache.xml"
    result = invoke("check", "Evil", "Clean", "--models", OUTPUTS, "--database-url", outputs_url,
                    "--junit-xml", str(junit))

    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output and "\r" not in result.output
    collision = [line for line in result.stdout.splitlines() if "collision" in line]
    assert len(collision) == 1, result.stdout
    assert "[link=http://evil.example]click[/link]" in collision[0]
    assert "a\\r\\nb" in collision[0] and "\\x1b[2J" in collision[0] and "\\x1b]0;pwned\\x07" in collision[0]
    assert "log warning evil\\x1b]0;logger\\x07: warned \\x1b[31mred\\x1b[0m" in result.stderr
    tables = invoke("models", "--models", OUTPUTS, "--database-url", outputs_url)
    assert "outputs_[bold]evil[/bold]" in tables.stdout
    # The JUnit file is well-formed XML, the values written out.
    failure = ET.fromstring(junit.read_text()).find("testcase/failure")
    assert "\\x1b[2J" in failure.text and "[link=http://evil.example]click[/link]" in failure.text


def test_json_carries_the_values_exactly(outputs_url):
    result = invoke("check", "Evil", "--models", OUTPUTS, "--database-url", outputs_url, "--json")

    (evil,) = json.loads(result.stdout)["models"]
    assert evil["table"] == "outputs_[bold]evil[/bold]"
    assert sorted(evil["collisions"][0]["ids"]) == sorted(outputs.EVIL_IDS)
    report = fullcache_cli.check(outputs_url, outputs, ["Evil"])
    assert sorted(report.problems()[0].ids) == sorted(outputs.EVIL_IDS)


def test_verify_shows_drifted_values_as_text():
    """verify's findings come from the table: a value a terminal would obey
    is spelled out, rich markup is shown, never applied."""
    import io

    from fullcache_cli.render import Output, make_console, render
    from fullcache_cli.reports import KeyDrift, ModelDrift, StaleRow, VerifyReport

    hostile_text = "\x1b]0;owned\x07[link=http://evil.example]click[/link]\r\nfake line"
    model = ModelDrift("Genre", "genres", "fullcache", "fullcache_cli.runtime.mixin.HasFullTableCache", rows=1,
                       cached_ids=1, cached_keys=1, populate_error=hostile_text)
    model.stale = [StaleRow(hostile_text, {"name": ("old", hostile_text)}, True, "old", hostile_text)]
    model.key_drift = [KeyDrift(hostile_text, 1, [hostile_text])]
    model.missing = [hostile_text]
    stream = io.StringIO()
    console = make_console(stream, lambda text: text)
    render(VerifyReport("sqlite:///x.db", [model]), Output(console, console, limit=5))

    printed = stream.getvalue()
    assert "\x1b" not in printed and "\x07" not in printed and "\r" not in printed
    assert "\\x1b]0;owned\\x07[link=http://evil.example]click[/link]\\r\\nfake line" in printed
    assert "\nfake line" not in printed
