"""Where one command's results go (:class:`Output`), and the dispatchers
that pick a report type's renderer: ``render`` for people, ``github`` and
``markdown`` for CI (their renderers are registered by the modules beside).
"""

from __future__ import annotations

import functools
import json
from typing import Any, Iterator, Optional
from rich.console import Console

from ..defaults import DEFAULT_LIMIT
from ..masking import mask_data
from ..reports import safe_repr
from .text import Redact, _no_redaction, terminal_text


FORMATS = ("table", "json", "github", "markdown")


PIECE = 64 * 1024  # characters written to stdout at a time


def _pieces(text: str) -> Iterator[str]:
    """``text`` in pieces of about PIECE characters, cut after a newline."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + PIECE)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


class Output:
    """Where one command's results go, and in which format."""

    def __init__(
        self,
        out: Console,
        err: Console,
        format: str = "table",
        limit: int = DEFAULT_LIMIT,
        redact: Redact = _no_redaction,
        *,
        as_json: bool = False,
    ) -> None:
        self.out = out
        self.err = err
        self.format = "json" if as_json else format
        self.limit = limit  # problems shown per model to people
        self.redact = redact

    def safe(self, value: Any) -> str:
        """``value`` (from data or the models' code) as terminal text."""
        return terminal_text(value, self.redact)

    @property
    def as_json(self) -> bool:
        return self.format == "json"

    # -- machines -----------------------------------------------------------

    def json(self, data: dict) -> None:
        """One JSON document on stdout."""
        self.write(self._json_text(data, indent=2) + "\n", exact=True)

    def _json_text(self, data: Any, indent: Optional[int]) -> str:
        """JSON, passwords masked before it is serialised (an escaped
        password would not be found after); ASCII escapes where stdout's
        encoding (or a lone surrogate) cannot take the text as it is."""
        data = mask_data(data, self.redact)
        text = json.dumps(data, indent=indent, ensure_ascii=False, default=safe_repr)
        encoding = getattr(self.out.file, "encoding", None) or "utf-8"
        try:
            text.encode(encoding)
        except (UnicodeEncodeError, LookupError):
            text = json.dumps(data, indent=indent, ensure_ascii=True, default=safe_repr)
        return text

    def write(self, text: str, exact: bool = False) -> None:
        """Text as it is (JSON, Markdown, workflow commands) on stdout;
        passwords masked unless ``exact`` (already masked).

        Written a piece at a time, cut at line ends: an unbuffered stdout
        (PYTHONUNBUFFERED) takes part of one large write and drops the rest
        unsaid when the reader leaves, where the next piece fails loudly
        (and a password never straddles two pieces)."""
        write = getattr(self.out.file, "write_exact", self.out.file.write) if exact else self.out.file.write
        for piece in _pieces(text):
            write(piece)
        self.out.file.flush()

    # -- people -------------------------------------------------------------

    def error(self, message: str) -> None:
        self.err.print(f"[bold red]Error:[/] {self.safe(message)}", soft_wrap=True)

    def warning(self, message: str) -> None:
        self.err.print(f"[yellow]Warning:[/] {self.safe(message)}", soft_wrap=True)

    def note(self, message: str) -> None:
        self.err.print(f"[cyan]Note:[/] {self.safe(message)}", soft_wrap=True)

    def emit(self, report: Any) -> None:
        """Print a report in the output's format (github and markdown where
        the report has them, tables otherwise)."""
        if self.format == "json":
            self.json(report.to_json())
        elif self.format == "github" and type(report) in github.registry:
            self.write(github(report))
        elif self.format == "markdown" and type(report) in markdown.registry:
            self.write(markdown(report, self.limit))
        else:
            render(report, self)

    def emit_line(self, event: Any) -> None:
        """Print one event of a stream: one JSON object a line, or one line
        for people."""
        if self.as_json:
            self.write(self._json_text(event.to_json(), indent=None) + "\n", exact=True)
        else:
            render(event, self)


@functools.singledispatch
def render(report: Any, output: Output) -> None:
    """Print a report for people; one function per report type."""
    raise TypeError(f"no renderer for {type(report).__name__}")


def mixin_label(mixin: str, mixin_class: str) -> str:
    """fullcache's mixin, or the application's own and where it comes from."""
    return "fullcache" if mixin == "fullcache" else f"own ({mixin_class})"


@functools.singledispatch
def github(report: Any) -> str:
    """A report as GitHub Actions workflow commands (annotations)."""
    raise TypeError(f"no github format for {type(report).__name__}")


@functools.singledispatch
def markdown(report: Any, limit: int = DEFAULT_LIMIT) -> str:
    """A report as Markdown, for job summaries and pull-request comments."""
    raise TypeError(f"no markdown format for {type(report).__name__}")
