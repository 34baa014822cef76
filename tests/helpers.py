"""Small helpers shared by the CLI tests."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import create_engine

from fullcache_cli.cli import cli

PLANTED = "tests.apps.planted"


def run(*args: str, env: dict | None = None) -> Result:
    """Invoke the CLI in-process; stdout and stderr are kept apart."""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def run_json(*args: str) -> tuple[int, Any]:
    result = run(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


def fill_planted(url: str) -> str:
    from tests.apps import planted

    engine = create_engine(url)
    try:
        planted.fill(engine)
    finally:
        engine.dispose()
    planted.reset_all()
    return url


def fill_sample(url: str) -> str:
    import sample_models

    engine = create_engine(url)
    try:
        sample_models.create_sample(engine)
    finally:
        engine.dispose()
    return url


def by_model(document: dict) -> dict:
    return {m["model"]: m for m in document["models"]}
