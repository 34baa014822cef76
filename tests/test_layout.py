"""The layout's promises: the runtime half (what applications import in
production) loads neither click, rich nor any of the tool's modules, and the
tool's library modules leave click and rich to the command line and the
renderer."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import fullcache_cli
import fullcache_cli.render
import fullcache_cli.runtime

PACKAGE = Path(fullcache_cli.__file__).parent


def _modules(package) -> list:
    return [package.__name__] + [
        info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    ]


# The command line and the renderer may use click and rich; nothing else may.
PRESENTATION = {
    "fullcache_cli.cli", "fullcache_cli.cli_commands", "fullcache_cli.cli_coherence", "fullcache_cli.cli_verify",
    "fullcache_cli.__main__", *_modules(fullcache_cli.render),
}

RUNTIME = _modules(fullcache_cli.runtime)
TOOL = [
    name for name in _modules(fullcache_cli)
    if not name.startswith("fullcache_cli.runtime") and name not in PRESENTATION
]

LOADED = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("module", RUNTIME)
def test_runtime_modules_load_no_tool(module):
    loaded = json.loads(subprocess.run(
        [sys.executable, "-c", LOADED, module], capture_output=True, text=True, check=True,
    ).stdout)
    foreign = [
        name for name in loaded
        if name.split(".")[0] in ("click", "rich")
        or (name.startswith("fullcache_cli.") and not name.startswith("fullcache_cli.runtime"))
    ]
    assert foreign == [], f"importing {module} loads {foreign}"


def _imports(path: Path, module: str) -> set:
    """Every module a source file imports, at the top or inside a function."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            name = node.module or ""
            prefix = f"{base}.{name}" if node.level else name
            found.add(prefix.rstrip("."))
            found.update(f"{prefix}.{alias.name}".lstrip(".") for alias in node.names)
    return found


def _path(module: str) -> Path:
    relative = Path(*module.split(".")[1:])
    folder = PACKAGE / relative
    return folder / "__init__.py" if folder.is_dir() else PACKAGE / relative.with_suffix(".py")


@pytest.mark.parametrize("module", TOOL)
def test_tool_library_modules_leave_click_rich_and_rendering_alone(module):
    imported = _imports(_path(module), module)
    bad = sorted(
        name for name in imported
        if name.split(".")[0] in ("click", "rich") or name in PRESENTATION
    )
    assert bad == [], f"{module} imports {bad}"


def test_the_module_lists_are_not_empty():
    assert {"fullcache_cli.runtime.mixin", "fullcache_cli.runtime.coherence.listener"} <= set(RUNTIME)
    assert {"fullcache_cli.warming", "fullcache_cli.reports", "fullcache_cli.reports.warm", "fullcache_cli.masking"} <= set(TOOL)
    assert {"fullcache_cli.render", "fullcache_cli.render.output", "fullcache_cli.render.tables"} <= PRESENTATION
