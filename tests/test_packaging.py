"""Packaging: the sdist and the wheel as ``python -m build`` makes them (the
wheel from the sdist, as an installer from an index would), their metadata,
the license, and the version written in one place.

The sdist carries the package, the sample, the README and the LICENSE; the
test suite stays in the repository (it needs its planted applications, its
golden files and a PostgreSQL cluster), so the sdist leaves it out.
"""

from __future__ import annotations

import email
import importlib.metadata
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from fullcache_cli.config import tomllib

import fullcache_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def test_the_sdist_holds_the_package_not_the_tests(built):
    with tarfile.open(built["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("LICENSE", "README.md", "pyproject.toml", "sample_models.py", "fullcache_cli/cli.py",
                   "fullcache_cli/runtime/mixin.py", "fullcache_cli/config.py", "fullcache_cli/baseline.py"):
        assert needed in names, needed
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/", ".ci/"))]


def test_wheel_metadata(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        info = next(name for name in wheel.namelist() if name.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(wheel.read(info))
        licenses = [name for name in wheel.namelist() if ".dist-info/licenses/" in name]
    assert metadata["Version"] == fullcache_cli.__version__
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License"] is None  # the deprecated free-text field is gone
    assert [name.rsplit("/", 1)[1] for name in licenses] == ["LICENSE"]
    classifiers = metadata.get_all("Classifier")
    assert "Programming Language :: Python :: 3.10" in classifiers and "Topic :: Database" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # the expression says it
    requires = metadata.get_all("Requires-Dist")
    assert "tomli>=1.1; python_version < \"3.11\"" in requires
    assert metadata["Requires-Python"] == ">=3.10"


def test_the_version_is_written_once():
    with open(ROOT / "pyproject.toml", "rb") as stream:
        pyproject = tomllib.load(stream)
    assert "version" not in pyproject["project"] and pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fullcache_cli.__version__"}
    assert importlib.metadata.version("fullcache") == fullcache_cli.__version__
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_the_quick_start_makes_a_virtualenv_first():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Quick start")
    opening = readme.index("```console\n", start) + len("```console\n")
    commands = readme[opening:readme.index("```\n", opening)].splitlines()
    assert commands[0].startswith("python3 -m venv") and "pip install" in commands[1]
    assert "pipx install" in readme[start:readme.index("\n## ", start + 5)]
