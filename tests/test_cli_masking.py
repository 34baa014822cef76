"""What the models' code logs, warns or raises reaches stderr one line each,
and a password in the database URL is masked in every output: on SQLite as
on PostgreSQL (masking does not depend on the backend)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from tests.apps import faulty
from tests.helpers import filled, run

FAULTY = "tests.apps.faulty"
SECRET = "Zq9-unlikely-Secret"


def test_logs_and_warnings_are_one_line_each_on_stderr(faulty_url):
    faulty.CONTROL["secret_url"] = "the reference server"
    result = run("warm", "First", "Leaky", "--models", FAULTY, "--database-url", faulty_url, "--json")
    assert result.exit_code == 0, result.output
    assert [m["populate_error"] for m in json.loads(result.stdout)["models"]] == [
        None, "RuntimeError: cannot reach the reference server"]
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0] == "log error tests.apps.faulty: could not refresh from the reference server"
    assert re.fullmatch(
        r"log warning py\.warnings: .*faulty\.py:\d+: UserWarning: falling back from the reference server", lines[1]
    ), lines[1]


def test_a_password_in_an_sqlite_url_is_masked_in_every_output(tmp_path):
    """SQLite ignores a ?password=, which makes it a URL with a password that
    needs no server. (The PostgreSQL form is in test_errors.py.)"""
    path = tmp_path / "app.db"
    filled(f"sqlite:///{path}", faulty.fill)
    url = f"sqlite:///{path}?password={SECRET}"
    masked = f"sqlite:///{path}?password=***"
    faulty.CONTROL["secret_url"] = url
    junit = tmp_path / "fullcache.xml"
    try:
        outputs = {}
        for options in ([], ["--json"], ["--traceback"], ["--junit-xml", str(junit)]):
            result = run("check", "First", "Leaky", "KeyLeaky", "--models", FAULTY, "--database-url", url, *options)
            assert result.exit_code == 1, result.output
            outputs[" ".join(options)] = result
        for text in (*(r.stdout + r.stderr for r in outputs.values()), junit.read_text()):
            assert SECRET not in text and quote(SECRET, safe="") not in text, text
        people = outputs[""].stdout + outputs[""].stderr
        assert f"Leaky  populate_error  RuntimeError: cannot reach {masked}" in people
        assert f"KeyLeaky  key_error  ids 1  ValueError: no key without {masked}" in people
        assert f"log error tests.apps.faulty: could not refresh from {masked}" in people
        assert f"UserWarning: falling back from {masked}" in people
        document = json.loads(outputs["--json"].stdout)
        assert document["database"] == masked
        assert document["models"][1]["populate_error"] == f"RuntimeError: cannot reach {masked}"
    finally:
        faulty.CONTROL.clear()
        for model in faulty.MODELS:
            model.reset_cache()
