"""Loading the user's models module, finding its cached models, and the one
way a model named by a caller (a name, a class, a module) becomes a
:class:`CachedModel`."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, List, Optional, Sequence

from .defaults import DEFAULT_MODELS
from .errors import ConfigError, ModelsNotFound, NoModelsModule, UsageError, describe, reraise_interrupt

PROTOCOL = ("populate_cache", "cache_key", "_cache", "_id_cache", "RESET")

# A class with these follows the protocol's methods; it may still have no
# caches of its own (see shared_cache), and is then found and reported.
METHODS = ("populate_cache", "cache_key", "RESET")
CACHES = ("_cache", "_id_cache")

_HOW = "name a models module: a dotted name importable from the current folder, or a path to a .py file"


@dataclass(frozen=True)
class CachedModel:
    """A mapped class that follows the full-table cache protocol."""

    name: str
    cls: type
    table: str
    mixin: str  # "fullcache" for fullcache's own mixin, "own" for the application's copy
    mixin_class: str  # where the protocol comes from, as module.Class
    shared_cache: Optional[str] = None  # why it has no caches of its own (see shared_cache)

    def as_dict(self) -> dict:
        return {
            "model": self.name,
            "table": self.table,
            "mixin": self.mixin,
            "mixin_class": self.mixin_class,
            "shared_cache": self.shared_cache,
        }


def load_models(spec: Optional[str] = None) -> ModuleType:
    """Import the models module named by a dotted name or a ``.py`` path
    (default: the sample)."""
    spec = spec or DEFAULT_MODELS
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        return _load_path(spec)
    return _load_dotted(spec)


def _load_dotted(name: str) -> ModuleType:
    # As with ``python -m``: the current folder is importable.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise NoModelsModule(f"models module {name!r} not found from {cwd}: {_HOW}") from None
        raise _import_failure(name, error) from error
    except SyntaxError as error:
        raise _syntax_failure(name, error) from error
    except Exception as error:
        raise _import_failure(name, error) from error
    except SystemExit as error:
        raise _import_failure(name, error) from error


PRIVATE_PREFIX = "_fullcache_models_"


def module_label(module: ModuleType) -> str:
    """The module as the user named it: its dotted name, or the file of a
    ``.py`` path whose name was taken (imported under a private name)."""
    name = module.__name__
    if name.startswith(PRIVATE_PREFIX) and getattr(module, "__file__", None):
        return str(module.__file__)
    return name


def _load_path(spec: str) -> ModuleType:
    # Messages name the path as it was typed (Path would fold "//").
    path = Path(spec)
    if path.is_dir():
        raise NoModelsModule(f"models path {spec!r} is a folder, not a .py file: {_HOW}")
    if not path.is_file():
        raise NoModelsModule(f"models file {spec!r} does not exist: {_HOW}")
    path = path.resolve()
    name = path.stem
    known = sys.modules.get(name)
    if known is not None:
        if getattr(known, "__file__", None) and Path(known.__file__).resolve() == path:
            return known
        name = f"{PRIVATE_PREFIX}{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise NoModelsModule(f"models file {spec!r} cannot be loaded as Python: {_HOW}")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so that it can import its neighbours
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        del sys.modules[name]
        raise _syntax_failure(str(path), error) from error
    except (Exception, SystemExit) as error:
        # Chained, so that --traceback shows where in the module it raised.
        del sys.modules[name]
        raise _import_failure(str(path), error) from error
    return module


def _syntax_failure(name: str, error: SyntaxError) -> ConfigError:
    where = f"{error.filename}:{error.lineno}" if error.filename else f"line {error.lineno}"
    return ConfigError(f"models module {name!r} has a syntax error at {where}: {error.msg}; fix it and run again")


def _import_failure(name: str, error: BaseException) -> ConfigError:
    return ConfigError(f"models module {name!r} raised at import: {describe(error)}; fix the module or its settings")


def _is_mapped(cls: type) -> bool:
    from sqlalchemy import inspect
    from sqlalchemy.orm import Mapper

    if cls.__dict__.get("__abstract__"):
        return False
    mapper = inspect(cls, raiseerr=False)
    return isinstance(mapper, Mapper) and mapper.class_ is cls


def follows_protocol(cls: type) -> bool:
    """The class has the protocol's methods (its caches may be shared)."""
    return all(hasattr(cls, name) for name in METHODS)


def shared_cache(cls: type) -> Optional[str]:
    """Why the class cannot cache its own rows, or None when it can.

    The original protocol keeps the caches in class attributes that each
    class must declare (``_cache = _id_cache = RESET``). Inherited from an
    unmapped mixin or an abstract base they are harmless: they stay RESET,
    and the class's first populate sets its own. Inherited from another
    mapped model, they are that model's caches: lookups on the class return
    the other model's rows until its own populate. Declared nowhere,
    ``by_id`` and ``by_cache_key`` raise AttributeError until a populate.
    fullcache's mixin gives every subclass caches of its own: never shared.
    Only the class as it is can be read: caches a populate already set on
    the class count as its own.
    """
    from .runtime.mixin import HasFullTableCache

    if issubclass(cls, HasFullTableCache):
        return None
    owners = {next((base for base in cls.__mro__ if name in base.__dict__), None) for name in CACHES}
    fix = "declare _cache = _id_cache = RESET in its class body, or use fullcache's mixin"
    if None in owners:
        return (
            "declares no caches of its own and inherits none: by_id and by_cache_key raise AttributeError "
            f"until a populate; {fix}"
        )
    models = sorted(f"{o.__module__}.{o.__qualname__}" for o in owners if o is not cls and _is_mapped(o))
    if models:
        return (
            f"declares no caches of its own: it shares those of the model {' and '.join(models)}, "
            f"whose rows its lookups return until its own populate; {fix}"
        )
    return None


def _mixin_of(cls: type) -> tuple[str, str]:
    from .runtime.mixin import HasFullTableCache

    if issubclass(cls, HasFullTableCache):
        return "fullcache", f"{HasFullTableCache.__module__}.{HasFullTableCache.__qualname__}"
    for base in cls.__mro__[1:]:
        if "RESET" in base.__dict__:
            return "own", f"{base.__module__}.{base.__qualname__}"
    return "own", f"{cls.__module__}.{cls.__qualname__}"


def discover_models(module: ModuleType) -> List[CachedModel]:
    """Every mapped class in the module that follows the protocol, in the
    order the module defines (or imports) them."""
    found: list[type] = []
    for value in list(vars(module).values()):
        if _is_cached_class(value) and not any(value is known for known in found):
            found.append(value)
    counts: dict[str, int] = {}
    for cls in found:
        counts[cls.__name__] = counts.get(cls.__name__, 0) + 1
    return [
        cached_model(cls, None if counts[cls.__name__] == 1 else f"{cls.__module__}.{cls.__qualname__}")
        for cls in found
    ]


def _is_cached_class(value: Any) -> bool:
    """Whether a value of the module's namespace is a cached model. Anything
    may sit there: a proxy or a metaclass that raises on attribute access is
    passed by, not allowed to end the discovery of the others."""
    try:
        return isinstance(value, type) and follows_protocol(value) and _is_mapped(value)
    except BaseException as error:
        reraise_interrupt(error)
        return False


def cached_model(cls: type, name: Optional[str] = None) -> CachedModel:
    """Describe one mapped class that follows the protocol."""
    if not (follows_protocol(cls) and _is_mapped(cls)):
        raise UsageError(
            f"{cls.__name__} is not a cached model: it needs to be mapped and to have "
            f"{', '.join(PROTOCOL)}"
        )
    mixin, mixin_class = _mixin_of(cls)
    return CachedModel(name or cls.__name__, cls, _table_name(cls), mixin, mixin_class, shared_cache(cls))


def _table_name(cls: type) -> str:
    from sqlalchemy import inspect

    table = inspect(cls).local_table
    return getattr(table, "fullname", None) or getattr(table, "name", str(table))


def require_models(module: ModuleType) -> List[CachedModel]:
    """The module's cached models; an error naming the module when it has none."""
    models = discover_models(module)
    if not models:
        raise ModelsNotFound(
            f"no cached models in {module_label(module)!r}: looked for mapped classes with "
            f"{', '.join(PROTOCOL)} (a HasFullTableCache mixin); {_HOW}"
        )
    return models


def closest(name: str, choices: Iterable[str], n: int = 1) -> List[str]:
    """The choices that read most like ``name`` (a match but for case first)."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered:
        return [lowered[name.lower()]]
    return difflib.get_close_matches(name, choices, n=n, cutoff=0.4)


def select_models(models: Sequence[CachedModel], names: Sequence[str]) -> List[CachedModel]:
    """The named models (all of them when no name is given), in the order named."""
    if not names:
        return list(models)
    by_name = {m.name: m for m in models}
    chosen = []
    for name in names:
        model = by_name.get(name)
        if model is None:
            suggestion = closest(name, by_name)
            hint = f"did you mean {suggestion[0]!r}?" if suggestion else "run 'fullcache models' to list them"
            raise UsageError(f"unknown model {name!r}: {hint} (models: {', '.join(by_name)})")
        if model not in chosen:
            chosen.append(model)
    return chosen


def resolve_models(models: Any = None, names: Sequence[str] = ()) -> List[CachedModel]:
    """The cached models to work on (those named, or all), from a models
    module, a list of mapped classes or CachedModels, or None for the sample."""
    if models is None:
        found = require_models(load_models())
    elif isinstance(models, ModuleType):
        found = require_models(models)
    else:
        found = [m if isinstance(m, CachedModel) else cached_model(m) for m in models]
    return select_models(found, names)


def resolve_model(model: "str | type | CachedModel", models: Any = None) -> CachedModel:
    """One cached model, given as a name (looked up in ``models``), a class
    or a CachedModel."""
    if isinstance(model, CachedModel):
        return model
    if isinstance(model, type):
        return cached_model(model)
    return resolve_models(models, [model])[0]
