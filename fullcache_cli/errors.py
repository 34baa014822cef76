"""The package's own exceptions. Only the command line turns them into exit
codes (``FullCacheError.exit_code``); library callers catch them as usual."""

from __future__ import annotations


class FullCacheError(Exception):
    """Something fullcache cannot do; the message names the thing and the fix."""

    exit_code = 2


class UsageError(FullCacheError):
    """The request itself is wrong: an unknown model, a KEY of no key type."""


class ConfigError(FullCacheError):
    """The models module or the database cannot be used as given."""


class ModelsNotFound(ConfigError):
    """The models module holds no cached models."""


class ModelError(FullCacheError):
    """The model at hand could not be read (its table is missing, say)."""

    exit_code = 1


def describe(error: BaseException) -> str:
    """One line for an exception: its type and the first line of its message
    (for a database error, the driver's own exception and message)."""
    original = getattr(error, "orig", None)
    if isinstance(original, BaseException):
        error = original
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    name = type(error).__name__
    return f"{name}: {lines[0]}" if lines else name
