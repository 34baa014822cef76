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


class NoModelsModule(ConfigError):
    """No models module where one was named (not found, a folder, no file)."""


class NoDatabaseURL(ConfigError):
    """No database URL given, and the models module has none."""


class ModelError(FullCacheError):
    """The model at hand could not be read (its table is missing, say)."""

    exit_code = 1


class ModelTimeout(BaseException):
    """A model's warm ran over its time limit (cancelling.time_limit). A
    BaseException, as KeyboardInterrupt is: the model's own ``except
    Exception`` must not swallow it."""


def reraise_interrupt(error: BaseException) -> BaseException:
    """``error`` when it is the application's code failing, whatever its
    type (``SystemExit``, ``GeneratorExit``, ``CancelledError`` included):
    one model's error, never the end of the run. Ctrl-C, and the model time
    limit that stops the model, are raised again."""
    if isinstance(error, (KeyboardInterrupt, ModelTimeout)):
        raise error
    return error


def _cause(error: BaseException) -> BaseException:
    """For a database error, the driver's own exception."""
    original = getattr(error, "orig", None)
    return original if isinstance(original, BaseException) else error


def first_line(error: BaseException) -> str:
    """The first non-blank line of the exception's message (of the driver's
    own exception, for a database error); empty when it has none."""
    error = _cause(error)
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "")


def describe(error: BaseException) -> str:
    """One line for an exception: its type and the first line of its message
    (for a database error, the driver's own exception and message)."""
    line = first_line(error)
    name = type(_cause(error)).__name__
    return f"{name}: {line}" if line else name
