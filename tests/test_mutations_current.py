"""tools/mutate.py stays usable as the code moves: every mutation names a
snippet that stands exactly once in its file, and tests that exist (the tool
itself refuses to run otherwise, so a stale entry would only show when
someone runs it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _mutations():
    spec = importlib.util.spec_from_file_location("fullcache_mutate", ROOT / "tools" / "mutate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.MUTATIONS


MUTATIONS = _mutations()


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_the_mutation_names_code_and_tests_that_exist(mutation):
    path = ROOT / mutation.path
    assert path.is_file(), f"{mutation.id}: {mutation.path} is gone"
    assert path.read_text().count(mutation.old) == 1, f"{mutation.id}: its snippet is not in {mutation.path} once"
    assert all((ROOT / test).is_file() for test in mutation.tests), f"{mutation.id}: {mutation.tests}"
