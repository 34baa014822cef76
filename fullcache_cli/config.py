"""Configuration: the ``[tool.fullcache]`` table of the nearest
``pyproject.toml`` that has one, from the current folder upwards.

::

    [tool.fullcache]
    models = "myapp.models"            # or a .py path, relative to this file
    allow = ["none_key", "Genre:collision"]
    max-warm-seconds = 30
    baseline = "fullcache-baseline.json"  # relative to this file
    statement-timeout = 60
    model-timeout = 120
    database-url-env = "MYAPP_DATABASE_URL"  # the variable's name, never a URL

The command line's flags and environment variables override these. A URL
never belongs in a file (it carries a password): a key that holds one is
refused.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from .errors import ConfigError
from .kinds import KINDS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FILE = "pyproject.toml"
KEYS = (
    "models", "allow", "max-warm-seconds", "baseline", "statement-timeout", "model-timeout", "database-url-env",
)
_URL_KEYS = ("database-url", "database_url", "url", "database")


@dataclass(frozen=True)
class Settings:
    """What ``[tool.fullcache]`` says; ``None`` where it says nothing."""

    path: Optional[Path] = None  # the pyproject.toml read, if any
    models: Optional[str] = None
    allow: Tuple[str, ...] = ()
    max_warm_seconds: Optional[float] = None
    baseline: Optional[str] = None
    statement_timeout: Optional[float] = None
    model_timeout: Optional[float] = None
    database_url_env: Optional[str] = None

    @property
    def root(self) -> Optional[Path]:
        """The folder of the file: relative paths in it start there."""
        return self.path.parent if self.path is not None else None


def find_pyproject(start: Optional[Path] = None) -> Optional[Path]:
    """The nearest ``pyproject.toml`` with a ``[tool.fullcache]`` table,
    from ``start`` (the current folder) upwards."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / FILE
        if path.is_file() and "fullcache" in _read(path).get("tool", {}):
            return path
    return None


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML ({error}): fix it, or remove its [tool.fullcache] table") from None
    except OSError as error:
        raise ConfigError(f"{path} cannot be read: {error.strerror or error}") from None


def load_settings(start: Optional[Path] = None) -> Settings:
    """The settings of the nearest ``[tool.fullcache]``; empty ones when
    there is none."""
    path = find_pyproject(start)
    if path is None:
        return Settings()
    table = _read(path)["tool"]["fullcache"]
    where = f"{path} [tool.fullcache]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of settings ({', '.join(KEYS)})")
    for key, value in table.items():
        if key in _URL_KEYS or (isinstance(value, str) and "://" in value):
            raise ConfigError(
                f"{where}: {key!r} holds a database URL, which never belongs in a file (it carries the "
                "password): remove it and set database-url-env to the name of the environment variable "
                "that holds the URL"
            )
        if key not in KEYS:
            near = difflib.get_close_matches(key.replace("_", "-"), KEYS, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"known keys: {', '.join(KEYS)}"
            raise ConfigError(f"{where}: unknown key {key!r}: {hint}")

    def text(key: str) -> Optional[str]:
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"{where}: {key!r} must be a non-empty string, not {value!r}")
        return value

    def seconds(key: str) -> Optional[float]:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{where}: {key!r} must be a positive number of seconds, not {value!r}")
        return float(value)

    allow = table.get("allow", [])
    if isinstance(allow, str):
        allow = [allow]
    if not isinstance(allow, list) or not all(isinstance(rule, str) for rule in allow):
        raise ConfigError(f"{where}: 'allow' must be a list of kinds or MODEL:KIND, not {allow!r}")
    for rule in allow:
        if rule.rpartition(":")[2] not in KINDS:
            raise ConfigError(f"{where}: 'allow' names no kind of problem in {rule!r} (kinds: {', '.join(KINDS)})")
    url_env = text("database-url-env")
    if url_env is not None and not url_env.replace("_", "").isalnum():
        raise ConfigError(f"{where}: 'database-url-env' must name an environment variable (MYAPP_DATABASE_URL), not {url_env!r}")
    models = text("models")
    if models is not None and (models.endswith(".py") or "/" in models):
        models = str(path.parent / models)
    baseline = text("baseline")
    if baseline is not None:
        baseline = str(path.parent / baseline)
    return Settings(
        path=path,
        models=models,
        allow=tuple(allow),
        max_warm_seconds=seconds("max-warm-seconds"),
        baseline=baseline,
        statement_timeout=seconds("statement-timeout"),
        model_timeout=seconds("model-timeout"),
        database_url_env=url_env,
    )


def command_defaults(settings: Settings, commands) -> dict:
    """[tool.fullcache] as click's defaults, command by command: flags and
    environment variables still win."""
    common = {
        "models_spec": settings.models,
        "statement_timeout": settings.statement_timeout,
        "model_timeout": settings.model_timeout,
    }
    checking = {
        "allowed": list(settings.allow) or None,
        "max_warm_seconds": settings.max_warm_seconds,
        "baseline": settings.baseline,
    }
    defaults = {}
    for name in commands:
        values = {**common, **(checking if name == "check" else {})}
        defaults[name] = {key: value for key, value in values.items() if value is not None}
    return defaults
