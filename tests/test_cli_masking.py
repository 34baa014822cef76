"""What the models' code logs, warns or raises reaches stderr one line each,
and a password in the database URL is masked in every output: on SQLite as
on PostgreSQL (masking does not depend on the backend). A password is masked
where it stands in a URL or a password= parameter, known or not, and never
where a word of the report merely equals it (tests/apps/outputs.py)."""

from __future__ import annotations

import itertools
import json
import os
import re
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

import fullcache_cli
from tests.apps import faulty, outputs
from tests.helpers import app_database, by_model, invoke, one_line_error, run

FAULTY = "tests.apps.faulty"
OUTPUTS = "tests.apps.outputs"
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
    url = f"sqlite:///{path}?password={SECRET}"
    masked = f"sqlite:///{path}?password=***"
    junit = tmp_path / "fullcache.xml"
    with app_database(faulty, f"sqlite:///{path}", secret_url=url):
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


_roles = itertools.count(1)


@pytest.fixture
def role_database(postgres_server):
    """Factory: the URL of a fresh PostgreSQL database owned by a new role
    whose password is the one given."""
    made = []

    def make(password: str) -> str:
        role = f"fc_mask_{next(_roles)}_{os.getpid()}"
        postgres_server.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        database = postgres_server.create_database(owner=role)
        made.append((role, database))
        return postgres_server.url(database, role, password).render_as_string(hide_password=False)

    yield make
    for role, database in made:
        postgres_server.drop_database(database)
        postgres_server.execute(f"DROP ROLE IF EXISTS {role}")




# -- masking: the password where it stands, never a word of the report ---------------


def test_masking_touches_passwords_only():
    from fullcache_cli.masking import mask_secrets

    assert mask_secrets("postgresql+psycopg2://postgres:***@db/postgres", ["postgres"]) == \
        "postgresql+psycopg2://postgres:***@db/postgres"
    assert mask_secrets("Genre: cannot reach postgresql://app:Genre@db/app", ["Genre"]) == \
        "Genre: cannot reach postgresql://app:***@db/app"
    # Unknown passwords too, plain (with @ : / in them) and URL-quoted.
    assert mask_secrets("at postgresql://u:s3cr3t-P@ss:w0rd/x@127.0.0.1:5432/db now") == \
        "at postgresql://u:***@127.0.0.1:5432/db now"
    assert mask_secrets("at postgresql://u:s3cr3t-P%40ss%3Aw0rd%2Fx@h/db") == "at postgresql://u:***@h/db"
    assert mask_secrets("host=db password=hunter2 user=x, sqlite:///a.db?password=abc&mode=ro") == \
        "host=db password=*** user=x, sqlite:///a.db?password=***&mode=ro"
    assert mask_secrets("password='two words' user=x") == "password=*** user=x"
    # A known password with a space in it, where it stands.
    assert mask_secrets("u:my secret@h, my secret", ["my secret"]) == "u:***@h, my secret"
    # No password: nothing changes.
    for text in ("postgresql://app@db/app", "postgresql://db:5432/app mail a@b", "sqlite:///x.db"):
        assert mask_secrets(text) == text


@pytest.mark.postgresql
@pytest.mark.parametrize("password", ["postgres", "Leaks"])
def test_password_equal_to_a_word_of_the_report(role_database, password):
    """GitHub Actions' service URL has the password "postgres"; a password
    may equal a model's name: the report stays whole, the password is gone."""
    url = role_database(password)
    with app_database(outputs, url, password=password):
        result = invoke("check", "Leaks", "Clean", "--models", OUTPUTS, "--database-url", url, "--json")

    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["database"] == make_url(url).set(drivername="postgresql+psycopg2").render_as_string()
    assert document["database"].startswith("postgresql+psycopg2://fc_mask_")
    models = by_model(document)
    assert list(models) == ["Leaks", "Clean"]
    assert models["Leaks"]["table"] == "outputs_leaks"
    assert models["Leaks"]["populate_error"] == "RuntimeError: cannot reach postgresql://app:***@db.internal:5432/app"
    assert f":{password}@" not in result.output and f"password={password}" not in result.output
    assert "refreshing from postgresql://app:***@db.internal:5432/app" in result.stderr
    assert "dsn: host=db.internal password=*** dbname=app" in result.stderr

    people = invoke("check", "Leaks", "Clean", "--models", OUTPUTS, "--database-url", url)
    assert "  Leaks  populate_error  RuntimeError: cannot reach postgresql://app:***@db.internal:5432/app" \
        in people.stdout
    assert "│ Leaks " in people.stdout and "│ Clean " in people.stdout
    assert f":{password}@" not in people.output


def test_password_in_what_model_code_prints_and_raises(outputs_url, tmp_path):
    """On either backend: a models module's own URL, printed and raised,
    plain and URL-quoted, in every output (JSON, people, JUnit)."""
    outputs.CONTROL["password"] = "p@ss:w/rd-Clean"
    junit = tmp_path / "fullcache.xml"
    result = invoke("check", "Leaks", "Clean", "--models", OUTPUTS, "--database-url", outputs_url, "--json",
                    "--junit-xml", str(junit))

    assert result.exit_code == 1, result.output
    everything = result.output + junit.read_text()
    for form in ("p@ss:w/rd-Clean", quote("p@ss:w/rd-Clean", safe=""), "p%40ss", "w/rd"):
        assert form not in everything, form
    models = by_model(json.loads(result.stdout))
    assert list(models) == ["Leaks", "Clean"]
    assert models["Leaks"]["populate_error"] == "RuntimeError: cannot reach postgresql://app:***@db.internal:5432/app"
    assert "or from postgresql://app:***@db.internal:5432/app" in result.stderr
    assert 'name="Clean"' in junit.read_text()
    # The Python API's report, too.
    report = fullcache_cli.check(outputs_url, outputs, ["Leaks"])
    assert report.models[0].populate_error == "RuntimeError: cannot reach postgresql://app:***@db.internal:5432/app"


def test_url_typed_where_a_model_goes_is_masked(outputs_url):
    result = invoke("check", "postgresql://app:hunter22@db/app", "--models", OUTPUTS, "--database-url", outputs_url)

    line = one_line_error(result, 2, "unknown model 'postgresql://app:***@db/app'")
    assert "hunter22" not in line
    models_path = invoke("check", "--models", "postgresql://app:hunter22@db/app.py", "--database-url", outputs_url)
    assert models_path.exit_code == 2
    assert "hunter22" not in models_path.output and "postgresql://app:***@db/app.py" in models_path.stderr
