"""Bad input: a one-line error naming the thing and the fix, the right exit
code, no traceback (unless --traceback), and never a password.

Rows about the models module and model names are in test_cli_loading.py; this
file covers the database URL, connecting, a missing table, bad cache keys,
a KEY that fits no key type, Ctrl-C, and passwords in every output.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy.engine import make_url

from tests.apps import faulty, planted, small_sample
from tests.helpers import PLANTED, app_database, filled, invoke, one_line_error

FAULTY = "tests.apps.faulty"
SAMPLE = "sample_models"

SECRET = "Zq9-unlikely-Secret"  # in URLs that never reach a server
SECRETS = (SECRET, "s3cr3t-P@ss:w0rd/x", "not-the-s3cr3t-P@ss:w0rd/x")


def assert_no_password(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                assert form not in text, f"{form!r} leaked in:\n{text}"


@pytest.fixture
def sample_url(database_url):
    with app_database(small_sample, database_url) as url:
        yield url


# -- the database URL -------------------------------------------------------


# Each backend's own way of getting the URL wrong.
MALFORMED = {
    "sqlite": ["sqlite:/app.db", "sqlite//app.db"],
    "postgresql": [f"postgresql://app:{SECRET}@localhost:notaport/app", f"postgresql://app:{SECRET}@[::1/app"],
}
UNKNOWN_DIALECT = {
    "sqlite": ("sqlite+nosuchdriver:///app.db", "sqlite+nosuchdriver"),
    "postgresql": (f"postgresql+nosuchdriver://app:{SECRET}@localhost/app", "postgresql+nosuchdriver"),
}
NOT_INSTALLED = {
    "sqlite": (f"sqlite+pysqlcipher://:{SECRET}@/app.db", "sqlite+pysqlcipher", "pysqlcipher3"),
    "postgresql": (f"postgresql+pg8000://app:{SECRET}@localhost/app", "postgresql+pg8000", "pg8000"),
}


def test_malformed_database_url(backend):
    for url in MALFORMED[backend] + ["not a url"]:
        line = one_line_error(
            invoke("warm", "--models", PLANTED, "--database-url", url), 2,
            "malformed database URL", "dialect[+driver]://user:password@host/dbname",
        )
        assert_no_password(line)


def test_unknown_dialect(backend):
    url, name = UNKNOWN_DIALECT[backend]
    result = invoke("warm", "--models", PLANTED, "--database-url", url)
    one_line_error(result, 2, f"unknown database dialect {name!r}", "sqlite:///path/to/file.db", "postgresql://")
    assert_no_password(result.output)
    result = invoke("check", "--models", PLANTED, "--database-url", f"nosuchdb://app:{SECRET}@localhost/app")
    one_line_error(result, 2, "unknown database dialect 'nosuchdb'")
    assert_no_password(result.output)


def test_driver_not_installed(backend):
    url, name, module = NOT_INSTALLED[backend]
    result = invoke("warm", "--models", PLANTED, "--database-url", url, "--traceback")
    assert result.exit_code == 2
    last = result.stderr.strip().splitlines()[-1]
    assert f"the driver for {name!r} is not installed" in last and module in last and "pip" in last
    assert_no_password(result.output)
    result = invoke("models", "--models", PLANTED, "--database-url", f"mysql+pymysql://app:{SECRET}@localhost/app")
    one_line_error(result, 2, "driver for 'mysql+pymysql' is not installed", "pymysql")
    assert_no_password(result.output)


def test_a_short_password_is_masked_without_garbling_the_message(faulty_url):
    """A password of one letter is masked where it stands as a password
    (``user:p@``), not wherever that letter appears in the message."""
    short = "postgresql://u:p@db.internal/app"
    faulty.CONTROL["secret_url"] = short
    result = invoke("warm", "Leaky", "--models", FAULTY, "--database-url", faulty_url,
                    env={"DATABASE_URL": short})
    assert result.exit_code == 0, result.output
    assert "Leaky  populate_error  RuntimeError: cannot reach postgresql://u:***@db.internal/app" in result.stdout
    assert "u:p@" not in result.output


# -- connecting ---------------------------------------------------------------


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_server():
    """A loopback port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def test_postgresql_refusing_connections(closed_port):
    result = invoke(
        "warm", "--models", PLANTED, "--connect-timeout", "2", "--traceback",
        "--database-url", f"postgresql://app:{SECRET}@127.0.0.1:{closed_port}/app",
    )
    assert result.exit_code == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: cannot connect to postgresql+psycopg2://app:***@127.0.0.1")
    assert "Connection refused" in last and "--connect-timeout" in last
    assert_no_password(result.output)


def test_postgresql_server_that_never_answers_times_out(silent_server):
    result = invoke(
        "check", "--models", PLANTED, "--connect-timeout", "2",
        "--database-url", f"postgresql://app:{SECRET}@127.0.0.1:{silent_server}/app",
    )
    one_line_error(result, 2, "cannot connect", "timeout expired", "--connect-timeout")
    assert_no_password(result.output)


@pytest.mark.parametrize("connect_timeout", [None, "2"])
def test_postgresql_authentication_failure(postgres_bad_password_url, connect_timeout):
    options = ["--connect-timeout", connect_timeout] if connect_timeout else []
    result = invoke("warm", "--models", PLANTED, "--database-url", postgres_bad_password_url, *options)
    one_line_error(result, 2, "cannot connect", "fullcache_pw:***@", "password authentication failed",
                   "check the user and password")
    assert_no_password(result.output)

    # --traceback and --json show no more of it.
    result = invoke("check", "--models", PLANTED, "--database-url", postgres_bad_password_url,
                    "--traceback", "--json")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and result.stdout == ""
    assert_no_password(result.output)


def test_postgresql_database_that_does_not_exist(postgres_admin_url):
    url = make_url(postgres_admin_url).set(database="fc_no_such_database")
    result = invoke("models", "--models", PLANTED, "--database-url", url.render_as_string(hide_password=False))
    one_line_error(result, 2, "fc_no_such_database", "does not exist", "check the database name")


def test_sqlite_file_in_a_missing_folder(tmp_path):
    path = tmp_path / "no-such-folder" / "app.db"
    result = invoke("warm", "--models", PLANTED, "--database-url", f"sqlite:///{path}")
    one_line_error(result, 2, "cannot connect", "folder", "does not exist", "check the path")
    assert not path.parent.exists()


def test_sqlite_missing_file_is_an_error_not_created(tmp_path):
    path = tmp_path / "typo.db"
    result = invoke("warm", "--models", PLANTED, "--database-url", f"sqlite:///{path}")
    one_line_error(result, 2, "cannot connect", str(path), "does not exist", "check the path")
    assert not path.exists()


def test_sqlite_file_that_is_no_database(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some words long enough to fill a header page\n" * 20)
    result = invoke("check", "--models", PLANTED, "--database-url", f"sqlite:///{path}")
    one_line_error(result, 2, "cannot connect", "file is not a database", "check the path")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_locked_database_gives_up_within_connect_timeout(planted_url):
    """SQLite's analogue of a server that refuses: a writer holds the lock."""
    holder = sqlite3.connect(make_url(planted_url).database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = invoke("warm", "--models", PLANTED, "--database-url", planted_url, "--connect-timeout", "1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_error(result, 2, "cannot connect", "database is locked", "--connect-timeout")


# -- the models' tables and keys ----------------------------------------------


def test_missing_table_is_that_models_error_and_the_others_are_reported(planted_url):
    result = invoke("warm", "--models", PLANTED, "--database-url", planted_url, "--json")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.stderr == ""
    models = {m["model"]: m for m in json.loads(result.stdout)["models"]}
    for name in ("SeedMissing", "FcMissing"):
        table = planted.__dict__[name].__tablename__
        assert models[name]["status"] == "error"
        assert models[name]["error"].startswith(f"table {table!r} cannot be read:")
    others = [m for name, m in models.items() if not name.endswith("Missing")]
    assert len(others) == 12
    assert all(m["status"] == "ok" and m["rows"] for m in others)

    # For people: the table, then the problem line naming the table.
    result = invoke("warm", "--models", PLANTED, "--database-url", planted_url, "FcFormat", "FcMissing")
    assert result.exit_code == 1
    assert "FcMissing  unreadable  table 'fc_missing' cannot be read" in result.stdout
    assert "2 models, 3 rows" in result.stdout

    result = invoke("models", "--models", PLANTED, "--database-url", planted_url)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "table 'seed_missing' cannot be read" in result.stdout

    result = invoke("inspect", "FcMissing", "--models", PLANTED, "--database-url", planted_url)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "fc_missing" in result.output

    result = invoke("lookup", "FcMissing", "x", "--models", PLANTED, "--database-url", planted_url)
    one_line_error(result, 1, "FcMissing cannot be looked up", "fc_missing")


def test_bad_cache_keys_are_problems_never_a_crash(planted_url):
    names = ["SeedTag", "SeedShelf", "SeedLabel", "FcTag", "FcShelf", "FcLabel"]
    result = invoke("warm", "--models", PLANTED, "--database-url", planted_url, "--json", *names)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    models = {m["model"]: m for m in json.loads(result.stdout)["models"]}
    for prefix in ("Seed", "Fc"):
        tag, shelf, label = (models[prefix + name] for name in ("Tag", "Shelf", "Label"))
        assert [(e["id"], e["error"].split(":")[0]) for e in tag["key_errors"]] == [(2, "TypeError")]
        assert "unhashable" in tag["key_errors"][0]["error"]
        assert [e["id"] for e in shelf["key_errors"]] == [2, 4]
        assert all(e["error"].startswith("ValueError: bad shelf code") for e in shelf["key_errors"])
        assert label["none_keys"] == [1, 2]
    # The seed's populate aborts at the first raising key: that is reported too.
    assert models["SeedShelf"]["populate_error"].startswith("ValueError: bad shelf code")
    assert models["FcShelf"]["populate_error"] is None

    result = invoke("check", "--models", PLANTED, "--database-url", planted_url, *names)
    assert result.exit_code == 1 and "Traceback" not in result.output
    for line in ("SeedTag  key_error  ids 2  TypeError", "FcShelf  key_error  ids 4  ValueError: bad shelf code",
                 "FcLabel  none_key  ids 1, 2", "SeedShelf  populate_error  ValueError"):
        assert line in result.stdout, line

    for name in ("SeedTag", "FcShelf", "SeedLabel"):
        result = invoke("inspect", name, "--models", PLANTED, "--database-url", planted_url)
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    # A row lost to an unhashable key is still found, from the database.
    result = invoke("lookup", "SeedTag", '["list:blue"]', "--models", PLANTED, "--database-url", planted_url,
                    "--json")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    found = json.loads(result.stdout)
    assert (found["found"], found["source"], found["id"]) == (True, "database", 2)
    assert "unhashable" in found["reason"]


def test_key_that_fits_no_key_type(sample_url):
    result = invoke("lookup", "DeliveryMechanism", "application/epub+zip",
                    "--models", SAMPLE, "--database-url", sample_url)
    one_line_error(result, 2, "key 'application/epub+zip' fits no key type", "tuple[str,",
                   '["application/')


def test_id_that_fits_no_key_type(sample_url):
    result = invoke("lookup", "Library", "third", "--id", "--models", SAMPLE, "--database-url", sample_url)
    one_line_error(result, 2, "id 'third' fits no key type", "int")


# -- Ctrl-C -----------------------------------------------------------------------


@pytest.mark.parametrize("command", [["warm"], ["check"], ["inspect", "Interrupted"], ["lookup", "Interrupted", "x"]])
def test_ctrl_c_during_a_warm(faulty_url, command):
    names = ["First", "Interrupted", "Last"] if command[0] in ("warm", "check") else []
    result = invoke(*command, "--models", FAULTY, "--database-url", faulty_url, *names)
    one_line_error(result, 130, "interrupted", "nothing was written")


# -- the application's logging ------------------------------------------------------


def test_application_logs_are_one_line_each_and_never_break_its_code(faulty_url):
    result = invoke("check", "Chatty", "--models", FAULTY, "--database-url", faulty_url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["models"][0]["cached_ids"] == 3
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        "log warning tests.apps.faulty: first line of a warning",
        "log error tests.apps.faulty: refreshing failed",
        "log warning tests.apps.faulty: %s rows of %s",
        "populating Chatty",
    ]


@pytest.mark.parametrize("command", [["models"], ["warm", "Chatty"], ["check", "Chatty"], ["inspect", "Chatty"],
                                     ["lookup", "Chatty", "Chatty-1"]])
def test_what_the_application_prints_goes_to_stderr(faulty_url, tmp_path, command):
    """stdout carries the report alone, whatever the models print at import
    or while they warm: with --json, one JSON document."""
    models = tmp_path / "printing_models.py"
    models.write_text('print("importing the models")\nfrom tests.apps.faulty import Chatty\n')
    result = invoke(*command, "--models", str(models), "--database-url", faulty_url, "--json")
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert "importing the models" not in result.stdout and "populating Chatty" not in result.stdout
    assert result.stderr.splitlines()[0] == "importing the models"
    if command[0] != "models":
        assert "populating Chatty" in result.stderr.splitlines()


# -- passwords --------------------------------------------------------------------


def in_clear(url: str) -> str:
    """The URL as a message may write it: with the password in clear."""
    return url.replace(quote("s3cr3t-P@ss:w0rd/x", safe=""), "s3cr3t-P@ss:w0rd/x")


@pytest.fixture
def password_url(postgres_password_url):
    """The faulty app's database, and its URL as it may be written:
    percent-quoted, and (for messages) with the password in clear."""
    with app_database(faulty, postgres_password_url) as url:
        yield url, in_clear(url)


def test_password_never_in_a_models_error_log_warning_json_or_junit(password_url, tmp_path):
    url, plain = password_url
    faulty.CONTROL["secret_url"] = f"{url} (that is, {plain})"
    junit = tmp_path / "fullcache.xml"
    outputs = []
    for options in ([], ["--json"], ["--traceback"], ["--junit-xml", str(junit)]):
        result = invoke("check", "--models", FAULTY, "--database-url", url, "First", "Leaky", "KeyLeaky", *options)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        outputs.append(result.output)
    assert_no_password(*outputs, junit.read_text())
    text = outputs[0]
    assert "Leaky  populate_error  RuntimeError: cannot reach postgresql+psycopg2://fullcache_pw:***@" in text
    assert "KeyLeaky  key_error  ids 1  ValueError: no key without" in text
    assert "log error tests.apps.faulty: could not refresh from postgresql+psycopg2://fullcache_pw:***@" in text
    assert "falling back from" in text
    document = json.loads(invoke("warm", "--models", FAULTY, "--database-url", url, "Leaky", "--json").stdout)
    assert "fullcache_pw:***@" in document["models"][0]["populate_error"]
    assert "fullcache_pw:***@" in document["database"]


def test_password_never_in_an_import_error_even_with_traceback(postgres_password_url, tmp_path):
    url = filled(postgres_password_url, faulty.fill)
    plain = in_clear(url)
    (tmp_path / "settings_models.py").write_text(
        "import os\n"
        "raise RuntimeError('cannot configure from ' + os.environ['APP_DB'] + ' or ' + os.environ['APP_DB_PLAIN'])\n"
    )
    models = str(tmp_path / "settings_models.py")
    env = {"APP_DB": url, "APP_DB_PLAIN": plain}
    # The URL given with --database-url, or found in the environment.
    for args, extra_env in (
        (["--database-url", url], {}),
        ([], {"FULLCACHE_DATABASE_URL": url}),
        ([], {"DATABASE_URL": plain}),
    ):
        result = invoke("warm", "--models", models, *args, env={**env, **extra_env})
        one_line_error(result, 2, "raised at import: RuntimeError: cannot configure from postgresql")
        assert_no_password(result.output)
        result = invoke("warm", "--models", models, "--traceback", *args, env={**env, **extra_env})
        assert result.exit_code == 2 and "Traceback" in result.stderr
        # The module's own frame, for a bug report.
        assert f'File "{models}", line 2, in <module>' in result.stderr
        assert_no_password(result.output)


def test_password_never_in_a_connection_error_with_traceback(closed_port):
    """The driver's own message never holds the password; fullcache's does
    name the URL. The library's error is checked on its own, since the
    command line masks every output a second time."""
    import traceback

    import fullcache_cli
    from fullcache_cli.errors import ConfigError

    for url in (
        f"postgresql://app:{SECRET}@127.0.0.1:{closed_port}/app",
        f"postgresql://app:{quote(SECRET)}@127.0.0.1:{closed_port}/app?sslmode=disable",
        f"postgresql://app@127.0.0.1:{closed_port}/app?password={quote_plus(SECRET)}",
    ):
        with pytest.raises(ConfigError) as caught:
            fullcache_cli.warm(url, planted)
        message = str(caught.value)
        assert message.startswith("cannot connect to postgresql+psycopg2://app") and "Connection refused" in message
        assert f"@127.0.0.1:{closed_port}/app" in message
        assert_no_password(message, "".join(traceback.format_exception(caught.value)))

        result = invoke("models", "--models", PLANTED, "--database-url", url, "--traceback", "--json")
        assert result.exit_code == 2
        assert "Connection refused" in result.stderr
        assert_no_password(result.output)
    result = invoke("warm", "--models", PLANTED, "--database-url",
                    f"postgresql://app@127.0.0.1:{closed_port}/app?password={SECRET}")
    one_line_error(result, 2, f"cannot connect to postgresql+psycopg2://app@127.0.0.1:{closed_port}/app?password=***:")


def test_password_given_as_a_query_parameter_is_hidden_too(password_url):
    url, _ = password_url
    as_query = url.replace(f":{quote('s3cr3t-P@ss:w0rd/x', safe='')}@", "@") + "?password=" + quote_plus(
        "s3cr3t-P@ss:w0rd/x")
    faulty.CONTROL["secret_url"] = as_query
    result = invoke("check", "--models", FAULTY, "--database-url", as_query, "First", "Leaky", "--json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["database"].endswith("?password=***")
    assert document["models"][0]["status"] == "ok"
    assert_no_password(result.output)
