"""What every report shares: the status of a model, the kinds of problem,
keys and values as JSON, ids and keys as text, the head of a per-model report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, Optional

from ..kinds import KINDS, ROW_KINDS, UNREADABLE_KINDS  # noqa: F401


class Status(str, Enum):
    """Whether a model was read; the value is its JSON spelling."""

    OK = "ok"
    ERROR = "error"  # could not be read
    NOT_RUN = "not run"  # the connection was lost before its turn


def safe_repr(value: Any) -> str:
    """``repr(value)``, whatever its ``__repr__`` does: one that raises gives
    a description instead (a report is written whatever a key's repr does)."""
    try:
        text = repr(value)
        if isinstance(text, str):
            return text
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        return f"<{type(value).__name__}: repr failed: {type(error).__name__}>"
    return f"<{type(value).__name__}: repr is not text>"


def json_key(key: Any) -> Any:
    """A cache key as a JSON value: scalars as themselves, tuples as arrays,
    anything else as its repr."""
    if key is None or isinstance(key, (str, bool, int)):
        return key
    if isinstance(key, float):
        return key if math.isfinite(key) else repr(key)
    if isinstance(key, tuple):
        return [json_key(part) for part in key]
    return safe_repr(key)


def json_value(value: Any) -> Any:
    """A column value as JSON: scalars as themselves, anything else as text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def plural(count: int, noun: str, nouns: Optional[str] = None) -> str:
    """``1 model``, ``2 models``, ``100,000 problems``."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def _id_text(value: Any) -> str:
    """An id as text, whatever its ``__str__`` does."""
    try:
        return value if isinstance(value, str) else str(value)
    except KeyboardInterrupt:
        raise
    except BaseException:
        return safe_repr(value)


def ids_text(ids: list, limit: int = 8) -> str:
    """Ids as people read them: the first ``limit`` and a count of the rest."""
    shown = ", ".join(_id_text(i) for i in ids[:limit])
    return shown + (f", … (+{len(ids) - limit:,})" if len(ids) > limit else "")


def format_key(key: Any) -> str:
    """A key as people read it and type it for ``fullcache lookup``: text as
    is, anything else in its JSON spelling (``3``, ``true``, ``null``, tuples
    as arrays), a key of no JSON form as its repr."""
    value = json_key(key)
    if isinstance(value, str) and not isinstance(key, tuple):
        return value
    return json.dumps(value, ensure_ascii=False)


def differs_text(differs: Dict[str, list]) -> str:
    """The columns colliding rows differ in, the kept row's value first."""
    return "differ in " + "; ".join(
        f"{column} {' / '.join(json.dumps(json_key(v), ensure_ascii=False) for v in values)}"
        for column, values in differs.items()
    )


@dataclass
class PerModel:
    """What every per-model report starts with: the model, and whether it
    could be read."""

    model: str
    table: str
    mixin: str
    mixin_class: str
    status: Status = Status.OK
    error: Optional[str] = None

    def head_json(self) -> dict:
        fields = ("model", "table", "mixin", "mixin_class", "status", "error")
        return {name: getattr(self, name) for name in fields} | {"status": self.status.value}
