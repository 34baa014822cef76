"""Golden output: what every command prints (tables and --json) on the sample
and on the planted app, on both backends, compared with files under
tests/golden/. What varies between runs (timings, memory, the database's
URL, column widths) is normalised away; everything else must match.

``FULLCACHE_UPDATE_GOLDEN=1 python -m pytest tests/test_cli_golden.py``
rewrites the files: do it only for a deliberate change of output, and say so.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.helpers import PLANTED, fill_planted, fill_sample, run

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("FULLCACHE_UPDATE_GOLDEN") == "1"

# Wide enough that no warm column is left out whatever the timings read.
ENV = {"COLUMNS": "300"}

SAMPLE_COMMANDS = {
    "models": ["models"],
    "warm": ["warm"],
    "check": ["check"],
    "inspect": ["inspect", "DeliveryMechanism", "--limit", "3"],
    "lookup-key": ["lookup", "DeliveryMechanism", '["application/epub+zip", "Adobe DRM"]', "--repeat", "3"],
    "lookup-id": ["lookup", "Library", "3", "--id", "--repeat", "3"],
    "lookup-missing": ["lookup", "Genre", "Fictio", "--repeat", "3"],
    "lookup-bad-id": ["lookup", "Library", "abc", "--id"],
    "lookup-bad-key": ["lookup", "DeliveryMechanism", "epub"],
    "unknown-model": ["warm", "Genr"],
}

PLANTED_COMMANDS = {
    "models": ["models"],
    "warm": ["warm"],
    "check": ["check", "--allow", "none_key", "--max-warm-seconds", "1000"],
    "inspect-genre": ["inspect", "SeedGenre"],
    "inspect-shelf": ["inspect", "FcShelf"],
    "inspect-setting": ["inspect", "FcSetting"],
    "inspect-missing": ["inspect", "FcMissing"],
    "lookup-collision": ["lookup", "FcGenre", "Fiction", "--repeat", "3"],
    "lookup-lost": ["lookup", "SeedShelf", "S4", "--repeat", "3"],
    "lookup-none": ["lookup", "FcLabel", "2", "--id", "--repeat", "3"],
}

# JSON fields whose values are measurements: only whether they are null stays.
MEASURED = {
    "warm_seconds", "memory_bytes", "cache_p50_us", "cache_p99_us", "db_p50_us", "db_p99_us",
    "cache_us", "db_us", "speedup", "last_populate_seconds", "seconds",
    "total_seconds", "phases", "statements", "shared_bytes", "bytes",
    "first_hit_p50_us", "first_hit_p99_us", "first_hit_us",
    # Timings stop at a time budget: how many were made is measured too.
    "samples", "cache_samples", "first_hit_samples", "db_samples",
}

# The mixin's counters add up over every warm of the process: only their presence stays.
COUNTED = {"hits", "misses", "populates", "merges", "merge_failures"}

_MEASURE = re.compile(
    r"\d[\d,]*(?:\.\d+)?(?: ?(?:ms|µs|KiB|MiB|GiB|B|s)\b|x faster|x slower)|(?<=median of )\d{1,3}(?:,\d{3})*|\d+(?= samples)"
)


def normalise_json(value, urls):
    if isinstance(value, dict):
        return {
            key: (
                "<measured>" if key in MEASURED and item is not None
                else "<counted>" if key in COUNTED and isinstance(item, int)
                else normalise_json(item, urls)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalise_json(item, urls) for item in value]
    if isinstance(value, str):
        return normalise_text(value, urls)
    return value


def normalise_text(text: str, urls) -> str:
    for url in urls:
        text = text.replace(url, "<database>")
    text = _MEASURE.sub("<measured>", text)
    text = re.sub(r"last_populate_seconds [\d.e-]+", "last_populate_seconds <measured>", text)
    text = re.sub(r"\(\d[\d,]* samples\)", "(<measured> samples)", text)
    text = re.sub(r"\b(hits|misses|populates|merges|merge_failures) \d+", r"\1 <counted>", text)
    text = re.sub(r" at 0x[0-9a-f]+>", " at 0x…>", text)
    return text


def normalise_table(text: str, urls) -> str:
    # A table's title wraps at the table's width, folding the URL anywhere.
    for url in urls:
        text = re.sub("\n?".join(re.escape(char) for char in url) + "\n?", "<database>", text)
    text = normalise_text(text, urls)
    lines = text.splitlines()
    top = next((n for n, line in enumerate(lines) if line.startswith("┏")), 0)
    if top:
        lines[:top] = [" ".join(line.strip() for line in lines[:top])]
    normalised = []
    for line in lines:
        # Column widths follow the measurements: keep the cells, not the padding.
        line = re.sub(r"([━─═])\1+", r"\1", line)
        line = re.sub(r" {2,}", " ", line).rstrip()
        normalised.append(line)
    return "\n".join(normalised) + "\n"


def _urls(url: str) -> list:
    parsed = make_url(url)
    forms = {url, parsed.render_as_string(hide_password=True)}
    if parsed.drivername == "postgresql":
        forms.add(parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=True))
    return sorted(forms, key=len, reverse=True)


def _capture(name: str, args: list, url: str, models: str) -> str:
    urls = _urls(url)
    table = run(*args, "--models", models, "--database-url", url, env=ENV)
    as_json = run(*args, "--models", models, "--database-url", url, "--json", env=ENV)
    document = normalise_json(json.loads(as_json.stdout), urls) if as_json.stdout else None
    return (
        f"$ fullcache {' '.join(args)}\n"
        f"exit {table.exit_code}\n"
        f"--- stdout\n{normalise_table(table.stdout, urls)}"
        f"--- stderr\n{normalise_table(table.stderr, urls)}"
        f"$ fullcache {' '.join(args)} --json\n"
        f"exit {as_json.exit_code}\n"
        f"--- stdout\n{json.dumps(document, indent=2, ensure_ascii=False)}\n"
        f"--- stderr\n{normalise_table(as_json.stderr, urls)}"
    )


def _compare(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with FULLCACHE_UPDATE_GOLDEN=1 to write it"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SAMPLE_COMMANDS))
def test_sample_output_is_unchanged(name, backend, database_url):
    fill_sample(database_url)
    actual = _capture(name, SAMPLE_COMMANDS[name], database_url, "sample_models")
    _compare(GOLDEN / backend / f"sample-{name}.txt", actual)


@pytest.mark.parametrize("name", sorted(PLANTED_COMMANDS))
def test_planted_output_is_unchanged(name, backend, database_url):
    fill_planted(database_url)
    actual = _capture(name, PLANTED_COMMANDS[name], database_url, PLANTED)
    _compare(GOLDEN / backend / f"planted-{name}.txt", actual)


def test_junit_xml_is_unchanged(backend, database_url, tmp_path):
    fill_planted(database_url)
    path = tmp_path / "check.xml"
    result = run("check", "--models", PLANTED, "--database-url", database_url, "--junit-xml", str(path), env=ENV)
    assert result.exit_code == 1
    xml = re.sub(r'time="[\d.]+"', 'time="<measured>"', path.read_text(encoding="utf-8"))
    _compare(GOLDEN / backend / "planted-junit.xml", normalise_text(xml, _urls(database_url)) + "\n")
