"""Help text is documentation: every command has a summary and an example,
and README's commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fullcache_cli.cli import cli
from tests.helpers import run, runs_alone

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_with_an_example(name):
    command = cli.commands[name]
    assert command.help and command.get_short_help_str().strip()
    assert "Example:" in command.help and "fullcache " + name in command.help
    result = run(name, "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout
    for option in command.params:
        if option.param_type_name == "option" and option.name not in ("help",):
            assert option.help, f"{name} {option.opts} has no help text"


def test_readme_documents_every_command():
    readme = (ROOT / "README.md").read_text()
    for name in cli.commands:
        assert f"fullcache {name}" in readme


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"pip install '\.\[test\]' && (python -m pytest)", readme)
    assert match, "README gives the test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^python -m pytest\b", ci, re.MULTILINE) or "\npython -m pytest" in ci


def test_help_does_not_import_sqlalchemy_rich_or_the_reports():
    code = (
        "import sys\n"
        "from fullcache_cli.cli import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='fullcache')\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'sqlalchemy' not in sys.modules, 'help imported sqlalchemy'\n"
        "assert 'rich' not in sys.modules, 'help imported rich'\n"
        "assert 'fullcache_cli.reports' not in sys.modules, 'help imported the reports'\n"
    )
    runs_alone(code)


def test_help_names_every_setting_of_the_configuration():
    from fullcache_cli.config import KEYS

    # click wraps the text, breaking lines after hyphens too.
    text = re.sub(r"-\s+", "-", " ".join(run("--help").stdout.split()))
    assert [key for key in KEYS if key not in text] == []
