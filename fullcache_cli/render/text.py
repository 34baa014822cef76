"""Text for a terminal: what comes from data made visible and safe
(:func:`terminal_text`, :func:`spelled_out`), the consoles, human units.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Optional, TextIO
from rich.console import Console
from rich.markup import escape

from ..masking import RedactingWriter
from ..reports import safe_repr


Redact = Callable[[str], str]


# What a terminal acts upon rather than shows: C0 and C1 controls (ESC, CR,
# LF, BEL...), line and paragraph separators, bidirectional overrides, and
# lone surrogates (text no terminal encoding can write).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def spelled_out(text: str, keep: str = "") -> str:
    """Text from the database or the models' code with what a terminal would
    obey (escape sequences, CR/LF, bidirectional overrides, lone surrogates)
    spelled out as escapes (``\\x1b``, ``\\r\\n``); the characters of
    ``keep`` are left as they are."""
    return _UNPRINTABLE.sub(lambda m: m.group() if m.group() in keep else _visible(m.group()), text)


def _no_redaction(text: str) -> str:
    return text


def terminal_text(value: Any, redact: Redact = _no_redaction) -> str:
    """A value from the database or the models' code, as it may be printed
    to a terminal in rich markup: passwords masked where they stand, control
    characters spelled out, rich markup shown as text. The one place where
    data becomes terminal output."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except KeyboardInterrupt:
            raise
        except BaseException:
            text = safe_repr(value)
    return escape(spelled_out(redact(text)))


class _Console(Console):
    """rich's Console, leaving a closed pipe to the command line's boundary
    (rich's own handling exits 1, the code of "problems found")."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError()


# Spaces before a line's end (and the colour codes after them): rich pads
# titles and cells to the table's width, which a log or a file does not want.
_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)(?=\n|$)")


PIPE_WIDTH = 160  # columns of output that goes to a pipe or a file, unless COLUMNS says


def trim_lines(text: str) -> str:
    """``text`` without spaces at the end of its lines."""
    return _TRAILING.sub(r"\1", text)


def output_width() -> int:
    """The width of output that goes to no terminal: COLUMNS when set."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    return columns if columns > 0 else PIPE_WIDTH


def make_console(stream: TextIO, redact: Callable[[str], str]) -> Console:
    """A console on ``stream`` that masks secrets in everything it writes;
    to a pipe or a file, ``output_width()`` columns and no trailing spaces."""
    terminal = bool(getattr(stream, "isatty", lambda: False)())
    if terminal:
        return _Console(file=RedactingWriter(stream, redact), highlight=False, soft_wrap=False, emoji=False)
    writer = RedactingWriter(stream, lambda text: trim_lines(redact(text)))
    return _Console(file=writer, width=output_width(), highlight=False, soft_wrap=False, emoji=False)


def human_bytes(count: Optional[int]) -> str:
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def human_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def times(ratio: float) -> str:
    """A ratio as people read it: ``3.7x``, ``81.3x``, ``1,210x``."""
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.3g}x"


def count(n: Optional[int]) -> str:
    return "-" if n is None else f"{n:,}"
