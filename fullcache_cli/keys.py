"""Cache keys as people read and type them.

A key's *type* is its shape (``str``, ``int``, ``tuple[str, None]``); a KEY
typed on the command line is read to fit the types the cache holds: text as
is, int and float coerced, tuples written as a JSON array whose elements are
coerced likewise.
"""

from __future__ import annotations

import difflib
import json
import math
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional

from .errors import UsageError
from .reports import format_key

_SCALARS = {str: "str", int: "int", float: "float", bool: "bool", type(None): "None"}


def key_type(key: Any) -> str:
    """The shape of a key: ``str``, ``int``, ``tuple[str, None]``..."""
    scalar = _SCALARS.get(type(key))
    if scalar:
        return scalar
    if isinstance(key, tuple):
        return f"tuple[{', '.join(key_type(part) for part in key)}]"
    return type(key).__qualname__


def key_types(keys: Iterable[Any]) -> Dict[str, int]:
    """How many keys have each shape, most common first."""
    return dict(Counter(key_type(k) for k in keys).most_common())


class _NoFit(ValueError):
    pass


def _scalar(value: Any, shape: str) -> Any:
    """``value`` (text, or a JSON element) coerced to a scalar shape."""
    if shape == "str":
        if isinstance(value, str):
            return value
        raise _NoFit
    if shape == "None":
        if value is None or value in ("null", "None"):
            return None
        raise _NoFit
    if shape == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _NoFit
    if shape == "int":
        if isinstance(value, bool):
            raise _NoFit
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise _NoFit from None
        raise _NoFit
    if shape == "float":
        if isinstance(value, bool):
            raise _NoFit
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise _NoFit from None
            if math.isfinite(number):
                return number
        raise _NoFit
    raise _NoFit


def _split_tuple(shape: str) -> List[str]:
    inner = shape[len("tuple[") : -1]
    parts, depth, current = [], 0, ""
    for char in inner:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _coerce(value: Any, shape: str) -> Any:
    if shape.startswith("tuple["):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise _NoFit from None
        parts = _split_tuple(shape)
        if not isinstance(value, list) or len(value) != len(parts):
            raise _NoFit
        return tuple(_coerce(item, part) for item, part in zip(value, parts))
    return _scalar(value, shape)


def parse_key(text: str, shapes: Iterable[str]) -> List[Any]:
    """Every reading of ``text`` that fits one of ``shapes`` (most likely
    first); empty when it fits none."""
    readings: List[Any] = []
    for shape in shapes:
        try:
            value = _coerce(text, shape)
        except _NoFit:
            continue
        if not any(value == seen and type(value) is type(seen) for seen in readings):
            readings.append(value)
    return readings


def examples(keys: Iterable[Any], n: int = 3) -> List[str]:
    """The first ``n`` keys, as people type them."""
    found = []
    for key in keys:
        found.append(format_key(key))
        if len(found) == n:
            break
    return found


def require_key(
    text: str, keys: Dict[Any, Any], what: str, noun: str = "key", shapes: Optional[List[str]] = None
) -> List[Any]:
    """The readings of ``text`` for a cache with these keys (or of the given
    shapes); a usage error showing real keys when it fits none."""
    shapes = shapes or list(key_types(keys))
    if not shapes:
        return [text]
    readings = parse_key(text, shapes)
    if not readings:
        shown = ", ".join(repr(example) for example in examples(keys)) or "(the cache is empty)"
        raise UsageError(
            f"{noun} {text!r} fits no key type of {what} ({', '.join(shapes)}); "
            f"write it like one of: {shown}"
        )
    return readings


def closest_keys(text: str, keys: Iterable[Any], n: int = 3) -> List[str]:
    """The keys that read most like ``text``."""
    by_text = {format_key(k): k for k in keys}
    return difflib.get_close_matches(text, list(by_text), n=n, cutoff=0.5)
