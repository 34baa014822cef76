"""fullcache: warm, check and measure whole-table caches of SQLAlchemy models.

``from fullcache_cli import HasFullTableCache`` gives the mixin; ``warm``,
``check``, ``inspect_model``, ``lookup`` and ``verify`` give the reports the
command line prints; ``fullcache_cli.coherence.start(...)`` keeps the caches coherent
across processes. Names load on first use, so ``fullcache --help`` never
imports SQLAlchemy.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "HasFullTableCache": "fullcache_cli.runtime.mixin",
    "CacheStats": "fullcache_cli.runtime.stats",
    "CacheMergeError": "fullcache_cli.runtime.mixin",
    "FullCacheError": "fullcache_cli.errors",
    "UsageError": "fullcache_cli.errors",
    "ConfigError": "fullcache_cli.errors",
    "load_models": "fullcache_cli.loading",
    "discover_models": "fullcache_cli.loading",
    "read_only_session": "fullcache_cli.database",
    "warm": "fullcache_cli.warming",
    "check": "fullcache_cli.warming",
    "inspect_model": "fullcache_cli.inspecting",
    "lookup": "fullcache_cli.lookups",
    "verify": "fullcache_cli.verifying",
}

# Modules reachable as attributes: ``fullcache_cli.coherence.start(...)``.
_MODULES = {"coherence": "fullcache_cli.coherence"}

__all__ = sorted(_EXPORTS) + sorted(_MODULES) + ["__version__"]


def __getattr__(name: str):
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
        globals()[name] = value
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fullcache_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
