"""The one renderer: a report becomes one JSON document on stdout, or rich
tables for people; progress, warnings and errors go to stderr.

Everything that comes from the database or the models' code (keys, ids,
errors, table and model names, what a model logs) reaches the terminal
through one function, :func:`terminal_text`: passwords masked where they
stand, control characters and rich markup made visible as text (the GitHub,
Markdown and XML forms spell control characters out through the same
:func:`spelled_out`). JSON carries the values exactly, passwords masked
before it is serialised. The consoles' streams mask passwords once more, for
what the models' code prints itself.
"""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .defaults import DEFAULT_LIMIT
from .masking import RedactingWriter, mask_data
from .notes import model_notes
from .reports import (
    UNREADABLE_KINDS,
    VERIFY_SCOPE,
    ChangeReport,
    InspectReport,
    KeyDrift,
    LookupReport,
    ModelDrift,
    ModelReport,
    ModelsReport,
    Problem,
    StaleRow,
    Status,
    StatusReport,
    VerifyReport,
    WarmReport,
    WatchEvent,
    differs_text,
    format_key,
    ids_text,
    json_value,
    plural,
    safe_repr,
)
from .timing import human_us

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


@render.register
def render_models(report: ModelsReport, output: Output) -> None:
    """models for people: one row per model."""
    table = Table(title=f"Cached models ({output.safe(report.database)})", title_justify="left")
    for name, justify in (("Model", "left"), ("Table", "left"), ("Mixin", "left"), ("Rows", "right")):
        table.add_column(name, justify=justify)
    for row in report.models:
        mixin = mixin_label(row.model.mixin, row.model.mixin_class)
        rows = count(row.rows) if row.error is None else f"[red]{output.safe(row.error)}[/]"
        table.add_row(output.safe(row.model.name), output.safe(row.model.table), output.safe(mixin), rows)
    output.out.print(table)
    shared = [row.model for row in report.models if row.model.shared_cache]
    if shared:
        output.out.print("\n[bold]Notes[/]")
        for model in shared:
            output.out.print(f"  {escape(model.name)}: {escape(model.shared_cache)}", soft_wrap=True)


# Left out first, in this order, when the table is wider than the screen;
# Model and Status always stay, and no number is ever cut.
WARM_DROPPABLE = (
    "Ids", "First hit", "DB p50", "Hit p50", "None keys", "Merge fails", "Memory", "Keys",
    "Key errors", "Collisions", "Warm", "Rows",
)
WARM_COLUMNS = (
    "Model", "Rows", "Ids", "Keys", "Collisions", "Key errors", "None keys",
    "Merge fails", "Warm", "Memory", "Hit p50", "First hit", "DB p50", "Status",
)
# A model's name folds onto more lines rather than push numbers out.
FOLDING = ("Model",)
MODEL_MIN_WIDTH = 8


@render.register
def render_warm(report: WarmReport, output: Output) -> None:
    """warm and check for people: the table, the problems, the totals."""
    out = output.out
    title = f"Warmed {plural(len(report.models), 'model')} ({output.safe(report.database)})"
    table = Table(title=title, title_justify="left")
    findings = report.findings()
    problems = [p for p in findings if p.fails]
    rows = [_warm_row(model, [p for p in findings if p.model == model.model], output.safe) for model in report.models]
    widths = _fitting(WARM_COLUMNS, rows, out.width, WARM_DROPPABLE)
    for name, width in widths.items():
        table.add_column(
            name,
            justify="left" if name in ("Model", "Status") else "right",
            width=width,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(cell for name, cell in zip(WARM_COLUMNS, row) if name in widths))
    left_out = [name for name in WARM_COLUMNS if name not in widths]
    if left_out:
        table.caption = f"Too narrow for {', '.join(left_out)}: see --json or a wider terminal."
        table.caption_justify = "left"
    out.print(table)
    if problems:
        out.print(f"\n[bold]Problems[/] ({len(problems):,})")
        _problem_lines(problems, output)
    accepted = _accepted(report, findings)
    if accepted:
        out.print()
        for line in accepted:
            out.print(line, soft_wrap=True)
    notes = [(model.model, note) for model in report.models for note in model_notes(model)]
    if notes:
        out.print(f"\n[bold]Notes[/] ({len(notes):,})")
        for name, note in notes:
            out.print(f"  [bold]{output.safe(name)}[/]  {output.safe(note)}", soft_wrap=True)
    out.print()
    out.print(totals(report, problems), soft_wrap=True)
    if report.role_can_write:
        out.print(role_note(report.role or "", report.role_can_write))


def role_note(role: str, tables: list) -> str:
    """Information, not a problem: the role may write where fullcache reads."""
    named = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    return (
        f"Note: role {escape(role)} may write to {len(tables)} cached table{'s' * (len(tables) != 1)} "
        f"({escape(named)}). fullcache refuses writes on its own connections; a read-only role has the "
        "database refuse them as well."
    )


def _problem_lines(problems: list, output: Output) -> None:
    """Each problem on a line, at most ``output.limit`` per model, then a
    count of the rest."""
    shown: dict = {}
    for problem in problems:
        seen = shown.get(problem.model, 0)
        shown[problem.model] = seen + 1
        if seen < output.limit:
            output.out.print(problem_line(problem, output.safe), soft_wrap=True)
    for model, total in shown.items():
        if total > output.limit:
            more = total - output.limit
            output.out.print(
                f"  [dim]… and {more:,} more {'problem' if more == 1 else 'problems'} of {output.safe(model)} "
                "(raise --limit, or --json for all)[/]",
                soft_wrap=True,
            )


def _accepted(report: WarmReport, findings: list) -> List[str]:
    """Lines on what check accepts: allowed kinds, the baseline's known
    problems, and those of its problems that are gone."""
    lines = []
    allowed = sum(1 for p in findings if p.allowed)
    known = sum(1 for p in findings if p.known and not p.allowed)
    if allowed:
        lines.append(f"[dim]{plural(allowed, 'problem')} allowed ({escape(', '.join(sorted(report.allowed)))})[/]")
    if report.baseline is not None:
        where = escape(report.baseline.path)
        if known:
            lines.append(f"[yellow]{plural(known, 'known problem')}[/] from the baseline {where}: not failing")
        fixed = len(report.baseline.fixed)
        if fixed:
            lines.append(
                f"[green]{plural(fixed, 'problem')} of the baseline fixed[/]: "
                f"update it with --write-baseline {where}"
            )
    return lines


def _warm_row(model: ModelReport, findings: list, safe: Callable[[Any], str] = terminal_text) -> list:
    def many(items: list) -> str:
        return f"[red]{len(items):,}[/]" if items else "0"

    if model.status is not Status.OK:
        status = f"[red]{escape(model.status.value)}[/]"
        return [safe(model.model)] + ["-"] * (len(WARM_COLUMNS) - 2) + [status]
    lookups = model.lookups
    failing = sum(1 for p in findings if p.fails)
    known = sum(1 for p in findings if p.known and not p.allowed)
    if failing:
        status = f"[red]{plural(failing, 'problem')}[/]"
    elif known:
        status = f"[yellow]{known:,} known[/]"
    else:
        status = "[green]ok[/]"
    return [
        safe(model.model),
        count(model.rows),
        count(model.cached_ids),
        count(model.cached_keys),
        many(model.collisions),
        many(model.key_errors),
        (f"[red]{len(model.none_keys):,}[/]" if len(model.none_keys) > 1 else str(len(model.none_keys))),
        many(model.merge_failures),
        human_seconds(model.total_seconds),
        human_bytes(model.memory_bytes),
        human_us(lookups.cache_p50_us) if lookups else "-",
        human_us(lookups.first_hit_p50_us) if lookups else "-",
        human_us(lookups.db_p50_us) if lookups else "-",
        status,
    ]


def problem_line(problem: Problem, safe: Callable[[Any], str] = terminal_text) -> str:
    """One problem on one line, whatever its ids, key and error hold."""
    parts = [f"[bold]{safe(problem.model)}[/]", f"[red]{problem.kind}[/]"]
    if problem.ids:
        parts.append(f"ids {safe(ids_text(problem.ids))}")
    if problem.key is not None:
        parts.append(f"key {safe(format_key(problem.key))}")
    if problem.error:
        parts.append(safe(problem.error))
    if problem.differs:
        parts.append(safe(differs_text(problem.differs)))
    return "  " + "  ".join(parts)


def totals(report: WarmReport, problems: list) -> str:
    readable = [m for m in report.models if m.status is Status.OK]
    rows = sum(m.rows or 0 for m in readable)
    memory = sum((m.memory_bytes or 0) + (m.shared_bytes or 0) for m in readable)
    warm = sum(m.total_seconds or 0 for m in readable)
    summary = (
        f"{plural(len(report.models), 'model')}, {plural(rows, 'row')}, {human_bytes(memory)} cached, "
        f"warmed in {human_seconds(warm)}"
    )
    if not problems:
        return f"{summary}: [green]no problems[/]"
    unreadable = sum(1 for p in problems if p.kind in UNREADABLE_KINDS)
    extra = f" ({unreadable:,} not read)" if unreadable else ""
    return f"{summary}: [red]{plural(len(problems), 'problem')}[/]{extra}"


def _fitting(columns: tuple, rows: list, width: int, droppable: tuple) -> Dict[str, int]:
    """The columns to show and the width of each: all of them if the table
    fits ``width``, else without the droppable ones, in their order, until
    it does. A column is as wide as its widest value (headers fold at
    spaces), so that no number is ever cut; the model's name folds when it
    must."""
    from rich.text import Text

    def cells(i: int) -> List[int]:
        return [Text.from_markup(row[i]).cell_len for row in rows]

    full = {name: max([len(name)] + cells(i)) for i, name in enumerate(columns)}
    # Headers fold at spaces; values never do. A name folds only as a last resort.
    need = {
        name: full[name] if name in FOLDING else max([max(len(w) for w in name.split())] + cells(i))
        for i, name in enumerate(columns)
    }

    def total(keep: list, sizes: Dict[str, int]) -> int:
        return sum(sizes[c] + 3 for c in keep) + 1

    keep = list(columns)
    if total(keep, full) <= width:
        return {name: full[name] for name in keep}
    for name in droppable:
        if total(keep, need) <= width:
            break
        keep.remove(name)
    sizes = {name: need[name] for name in keep}
    spare = width - total(keep, sizes)
    if spare < 0:
        for name in FOLDING:
            if name in sizes:
                cut = min(-spare, sizes[name] - MODEL_MIN_WIDTH)
                sizes[name] -= max(cut, 0)
                spare += max(cut, 0)
    for name in keep:  # what room is left unfolds headers
        grow = min(max(spare, 0), full[name] - sizes[name])
        sizes[name] += grow
        spare -= grow
    return sizes


class RichProgress:
    """A progress display on stderr while models warm."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict = {}

    def __enter__(self) -> "RichProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def model_started(self, model: str, rows: Optional[int]) -> None:
        task = self._tasks.get(model)
        if task is None:
            self._tasks[model] = self._progress.add_task(terminal_text(model), total=rows)
        else:
            self._progress.update(task, total=rows)

    def rows_loaded(self, model: str, rows: int) -> None:
        self._progress.update(self._tasks[model], completed=rows)

    def phase_started(self, model: str, phase: str) -> None:
        # The bar restarts with each phase (the merge check counts its rows): never frozen at N/N.
        task = self._tasks.get(model)
        if task is None:
            return
        description = model if phase in ("count", "populate") else f"{model} · {phase}"
        self._progress.update(task, description=terminal_text(description), completed=0)

    def model_finished(self, report: ModelReport) -> None:
        task = self._tasks.get(report.model)
        if task is not None:
            total = self._progress.tasks[task].total
            self._progress.update(task, completed=total if total is not None else 1, total=total or 1)


def junit_xml(report: WarmReport, redact: Redact = _no_redaction) -> str:
    """One test case per model for CI systems: a failure listing its
    problems, or an error when the model could not be read."""
    from xml.etree import ElementTree as ET

    problems = report.problems()
    unreadable = {p.model for p in problems if p.kind in UNREADABLE_KINDS}
    suite = ET.Element(
        "testsuite",
        name="fullcache check",
        tests=str(len(report.models)),
        failures=str(len({p.model for p in problems} - unreadable)),
        errors=str(len(unreadable)),
        time=f"{report.seconds:.3f}",
    )
    for model in report.models:
        case = ET.SubElement(
            suite, "testcase", classname=_xml_text(f"fullcache.{model.table}", redact),
            name=_xml_text(model.model, redact), time=f"{model.warm_seconds or 0:.3f}",
        )
        mine = [p for p in problems if p.model == model.model]
        if model.model in unreadable:
            message = _xml_text(model.error or model.status.value, redact)
            error = ET.SubElement(case, "error", message=message, type=mine[0].kind)
            error.text = _xml_text("\n".join(p.text(50) for p in mine), redact)
        elif mine:
            failure = ET.SubElement(case, "failure", message=plural(len(mine), "problem"), type="fullcache")
            failure.text = _xml_text("\n".join(p.text(50) for p in mine), redact)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def junit_error_xml(message: str, redact: Redact = _no_redaction) -> str:
    """A suite of one errored case, for a check that could not run at all
    (exit 2): CI shows why instead of a missing report."""
    from xml.etree import ElementTree as ET

    suite = ET.Element("testsuite", name="fullcache check", tests="1", failures="0", errors="1", time="0.000")
    case = ET.SubElement(suite, "testcase", classname="fullcache", name="fullcache check")
    error = ET.SubElement(case, "error", message=_xml_text(message, redact), type="configuration")
    error.text = _xml_text(message, redact)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


# Characters XML 1.0 cannot hold at all, not even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str, redact: Redact = _no_redaction) -> str:
    """Text for the JUnit file: passwords masked first (ElementTree escapes
    what it writes), then the characters XML cannot carry spelled out."""
    return _NOT_XML.sub(lambda m: _visible(m.group()), redact(text))


# -- GitHub Actions and Markdown -------------------------------------------


def _control_free(text: str) -> str:
    """Text from the database or the models' code, its control characters
    (escape sequences, say) spelled out rather than obeyed; line ends and
    tabs are left to the format's own escaping."""
    return spelled_out(text, keep="\n\r\t")


def github_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's toolkit does."""
    return _control_free(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """A workflow command's property (title=...), escaped as GitHub's toolkit
    does: its data escapes, and ':' and ','."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


@functools.singledispatch
def github(report: Any) -> str:
    """A report as GitHub Actions workflow commands (annotations)."""
    raise TypeError(f"no github format for {type(report).__name__}")


@github.register
def github_warm(report: WarmReport) -> str:
    """One ``::error`` per failing problem, a ``::warning`` per known one,
    then the totals as a plain line."""
    lines = []
    for problem in report.findings():
        if problem.allowed:
            continue
        level = "error" if problem.fails else "warning"
        title = f"fullcache {problem.kind}: {problem.model}" + ("" if problem.fails else " (known)")
        lines.append(f"::{level} title={github_property(title)}::{github_data(problem.model + ' ' + problem.text(50))}")
    lines.append(_control_free(report.summary()).replace("\n", " "))
    return "\n".join(lines) + "\n"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-!|~])")


def markdown_text(text: str) -> str:
    """Text for a Markdown table cell or line: special characters escaped,
    on one line."""
    one_line = " ".join(_control_free(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line)


@functools.singledispatch
def markdown(report: Any, limit: int = DEFAULT_LIMIT) -> str:
    """A report as Markdown, for job summaries and pull-request comments."""
    raise TypeError(f"no markdown format for {type(report).__name__}")


@markdown.register
def markdown_warm(report: WarmReport, limit: int = DEFAULT_LIMIT) -> str:
    """The verdict, a table of the models, and the problems (at most
    ``limit`` per model)."""
    findings = report.findings()
    problems = [p for p in findings if p.fails]
    verdict = "passed" if not problems else f"failed: {plural(len(problems), 'problem')}"
    lines = [
        f"## fullcache check {verdict}",
        "",
        markdown_text(f"{plural(len(report.models), 'model')} in {report.database}, {human_seconds(report.seconds)}."),
        "",
        "| Model | Rows | Keys | Collisions | Key errors | Merge fails | Warm | Memory | Status |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for model in report.models:
        mine = [p for p in findings if p.model == model.model]
        failing = sum(1 for p in mine if p.fails)
        known = sum(1 for p in mine if p.known and not p.allowed)
        if model.status is not Status.OK:
            status = f"❌ {model.status.value}"
        elif failing:
            status = f"❌ {plural(failing, 'problem')}"
        elif known:
            status = f"⚠️ {known:,} known"
        else:
            status = "✅ ok"
        cells = [
            markdown_text(model.model), count(model.rows), count(model.cached_keys),
            f"{len(model.collisions):,}", f"{len(model.key_errors):,}", f"{len(model.merge_failures):,}",
            human_seconds(model.warm_seconds), human_bytes(model.memory_bytes), status,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    sections = (
        ("Problems", problems),
        ("Known from the baseline", [p for p in findings if p.known and not p.allowed]),
        ("Allowed", [p for p in findings if p.allowed]),
    )
    for title, items in sections:
        if not items:
            continue
        lines += ["", f"### {title} ({len(items):,})", ""]
        shown: Dict[str, int] = {}
        for problem in items:
            shown[problem.model] = shown.get(problem.model, 0) + 1
            if shown[problem.model] <= limit:
                lines.append(f"- **{markdown_text(problem.model)}** {markdown_text(problem.text(50))}")
        for model, total in shown.items():
            if total > limit:
                lines.append(f"- … and {total - limit:,} more of {markdown_text(model)}")
    if report.baseline is not None and report.baseline.fixed:
        lines += ["", markdown_text(f"{plural(len(report.baseline.fixed), 'problem')} of the baseline fixed.")]
    return "\n".join(lines) + "\n"


def _more(output: Output, shown: int, total: int) -> None:
    if total > shown:
        output.out.print(f"  [dim]… and {total - shown:,} more (raise --limit, or --json for all)[/]")


@render.register
def render_inspect(inspected: InspectReport, output: Output) -> None:
    """inspect for people: the model's figures, then each list capped."""
    model, limit, out = inspected.model, inspected.limit, output.out
    mixin = mixin_label(model.mixin, model.mixin_class)
    out.print(f"[bold]{output.safe(model.model)}[/] (table {output.safe(model.table)}, mixin {output.safe(mixin)}) in {output.safe(inspected.database)}", soft_wrap=True)
    if model.status is not Status.OK:
        out.print(f"  [red]{output.safe(model.status.value)}[/]: {output.safe(model.error or '')}", soft_wrap=True)
        return
    lookups = model.lookups
    figures = [
        f"rows {count(model.rows)}",
        f"cached ids {count(model.cached_ids)}",
        f"cached keys {count(model.cached_keys)}",
        f"warm {human_seconds(model.total_seconds)} (populate {human_seconds(model.warm_seconds)}, "
        f"SQL statements {model.statements.get('populate', 0):,})",
        f"memory {human_bytes(model.memory_bytes)}"
        + (f" + {human_bytes(model.shared_bytes)} of other cached models" if model.shared_bytes else ""),
    ]
    if lookups:
        figures += [
            f"hit p50/p99 {human_us(lookups.cache_p50_us)}/{human_us(lookups.cache_p99_us)} ({lookups.samples} samples)",
            f"first hit in a new session p50/p99 {human_us(lookups.first_hit_p50_us)}/"
            f"{human_us(lookups.first_hit_p99_us)} ({lookups.first_hit_samples} samples)",
            f"db p50/p99 {human_us(lookups.db_p50_us)}/{human_us(lookups.db_p99_us)} ({lookups.db_samples} samples)",
        ]
    out.print("  " + " · ".join(figures), soft_wrap=True)
    if model.shared_cache:
        out.print(f"  [red]shared cache[/]: {escape(model.shared_cache)}", soft_wrap=True)
    if lookups and lookups.slow_hit:
        out.print(f"  [red]slow hit[/]: {escape(lookups.slow_hit)}", soft_wrap=True)
    if model.populate_error:
        out.print(f"  [red]populate error[/]: {output.safe(model.populate_error)}", soft_wrap=True)
    if model.lookup_error:
        out.print(f"  [red]lookup error[/]: {output.safe(model.lookup_error)}", soft_wrap=True)
    if model.phases:
        out.print("  phases: " + " · ".join(f"{output.safe(n)} {human_seconds(s)}" for n, s in model.phases.items()))
    for note in model_notes(model):
        out.print(f"  note: {output.safe(note)}", soft_wrap=True)

    def section(title: str, items: list, line: Callable[[Any], str]) -> None:
        colour = "red" if items else "green"
        out.print(f"\n[bold]{title}[/] ([{colour}]{len(items):,}[/])")
        for item in items[:limit]:
            out.print("  " + line(item), soft_wrap=True)
        _more(output, min(limit, len(items)), len(items))

    section(
        "Collisions", model.collisions,
        lambda c: f"key {output.safe(format_key(c.key))}  ids {output.safe(ids_text(c.ids, 50))}  kept {output.safe(c.kept_id)}"
        + (f"  {output.safe(differs_text(c.differs))}" if c.differs else ""),
    )
    section("Key errors", model.key_errors, lambda e: f"id {output.safe(e.id)}  {output.safe(e.error)}")
    out.print(f"\n[bold]None keys[/] ({len(model.none_keys):,})")
    if model.none_keys:
        out.print("  ids " + output.safe(ids_text(model.none_keys, limit)), soft_wrap=True)
    section(
        "Unreachable keys", model.unreachable_keys,
        lambda u: f"key {output.safe(format_key(u.key))}  id {output.safe(u.id)}  {output.safe(u.error)}",
    )
    section("Merge failures", model.merge_failures, lambda e: f"id {output.safe(e.id)}  {output.safe(e.error)}")
    out.print("\n[bold]Key types[/]")
    types = list(inspected.key_types.items())
    if types:
        out.print("  " + output.safe(", ".join(f"{shape}: {n:,}" for shape, n in types[:limit])), soft_wrap=True)
    _more(output, min(limit, len(types)), len(types))
    if inspected.stats:
        out.print("\n[bold]Mixin statistics[/]")
        stats = " · ".join(f"{output.safe(name)} {output.safe(value)}" for name, value in inspected.stats.items())
        out.print("  " + stats, soft_wrap=True)
    entries = inspected.entries
    out.print(f"\n[bold]Entries[/] (first {len(entries):,} of {count(model.cached_keys)})")
    if entries:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("Key", "Id", "Object"):
            table.add_column(column)
        for entry in entries:
            table.add_row(output.safe(format_key(entry.key)), output.safe(entry.id), output.safe(entry.repr))
        out.print(table)


@render.register
def render_lookup(report: LookupReport, output: Output) -> None:
    """lookup for people: where the row came from, its values, the timings."""
    console = output.out
    what = f"{output.safe(report.model)} {'id' if report.by == 'id' else 'key'} {output.safe(format_key(report.key))}"
    if not report.found:
        console.print(f"{what}: [red]not found[/]", soft_wrap=True)
        if report.error:
            console.print(f"  error: {output.safe(report.error)}", soft_wrap=True)
        if report.suggestions:
            console.print("  closest keys: " + ", ".join(output.safe(safe_repr(s)) for s in report.suggestions), soft_wrap=True)
        return
    source = "[green]cache[/]" if report.source == "cache" else "[yellow]database[/]"
    console.print(f"{what}: found in {source}, id {output.safe(report.id)}", soft_wrap=True)
    if report.reason:
        console.print(f"  not from the cache because {output.safe(report.reason)}", soft_wrap=True)
    if report.shadows:
        console.print(f"  [red]this key shadows rows[/] {output.safe(ids_text(report.shadows, 50))}", soft_wrap=True)
    if report.merge is not None:
        merge = "[green]ok[/]" if report.merge.ok else f"[red]failed[/]: {output.safe(report.merge.error or '')}"
        console.print(f"  merge into a second session: {merge}", soft_wrap=True)
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("Column")
    table.add_column("Value")
    for name, value in (report.values or {}).items():
        table.add_row(output.safe(name), output.safe(json.dumps(value, ensure_ascii=False)))
    console.print(table)
    timing = []
    if report.cache_us is not None:
        timing.append(f"cached lookup {human_us(report.cache_us)} (median of {report.cache_samples:,})")
    if report.db_us is not None:
        timing.append(f"database by primary key {human_us(report.db_us)} (median of {report.db_samples:,})")
    if timing:
        line = " vs ".join(timing)
        speedup = report.speedup
        if speedup is not None:
            if speedup >= 1:
                line += f": {times(speedup)} faster from the cache"
            else:
                line += f": [red]{times(1 / speedup)} slower from the cache[/]"
        console.print("  " + line, soft_wrap=True)
    if report.first_hit_us is not None:
        console.print(
            f"  first lookup in a new session {human_us(report.first_hit_us)} "
            f"(median of {report.first_hit_samples:,}, each from a new session)",
            soft_wrap=True,
        )


# -- coherence ------------------------------------------------------------------


@render.register
def render_change(report: ChangeReport, output: Output) -> None:
    """install/uninstall/invalidate: what was written, or the SQL (--sql)."""
    if not report.written:
        output.out.file.write(report.sql)
        return
    done = {"install": "Installed change capture", "uninstall": "Removed change capture",
            "invalidate": "Invalidated"}[report.action]
    out = output.out
    out.print(f"{done} on {output.safe(report.database)} ({report.backend})", soft_wrap=True)
    for table in report.tables:
        out.print(f"  {output.safe(table)}", soft_wrap=True)
    for verb, names in (("created", report.created), ("removed", report.removed)):
        for name in names:
            out.print(f"  {verb}: {output.safe(name)}", soft_wrap=True)
    if report.action == "install" and not report.created:
        out.print("  nothing to change: already installed")


@render.register
def render_coherence_status(report: StatusReport, output: Output) -> None:
    """coherence status: one row per table, the listeners, the warnings."""
    capture = "database triggers" if report.installed else "not installed (ORM fallback: raw SQL invisible)"
    table = Table(title=f"Coherence on {output.safe(report.database)}: capture {capture}", title_justify="left")
    for name, justify in (("Model", "left"), ("Table", "left"), ("Trigger", "left"), ("Generation", "right"),
                          ("Commits/min", "right")):
        table.add_column(name, justify=justify)
    for row in report.tables:
        trigger = output.safe(row.trigger) if row.trigger else "[red]missing[/]"
        table.add_row(output.safe(row.model), output.safe(row.table), trigger, count(row.generation),
                      count(row.commits_last_minute))
    output.out.print(table)
    if report.backend == "postgresql":
        output.out.print(f"Listeners: {len(report.listeners)}; notification queue {report.queue_usage:.1%} used")
        for listener in report.listeners:
            output.out.print(f"  pid {output.safe(listener['pid'])} from {output.safe(listener['client'])} since "
                             f"{output.safe(listener['backend_start'])}", soft_wrap=True)
    for warning in report.warnings:
        output.warning(warning)


@render.register
def render_watch_event(event: WatchEvent, output: Output) -> None:
    delay = "-" if event.delay_ms is None else f"{event.delay_ms:,.1f} ms"
    txid = "-" if event.txid is None else event.txid
    output.out.print(f"{output.safe(event.table)}  txid {txid}  pid {output.safe(event.sender_pid)}  delay {delay}", soft_wrap=True)


@render.register
def render_verify(report: VerifyReport, output: Output) -> None:
    """verify for people: a row of counts per model, then each model's
    findings, ``limit`` items of each list with a count of the rest."""
    out = output.out
    when = "" if report.after_seconds is None else (
        f", {report.after_seconds:g} s after warming" if report.after_seconds else ", right after warming"
    )
    table = Table(title=f"Verified {len(report.models)} models ({output.safe(report.database)}{when})", title_justify="left")
    for name in ("Model", "Rows", "Ids", "Keys", "Stale", "Missing", "Extra", "Key drift", "Status"):
        table.add_column(name, justify="left" if name in ("Model", "Status") else "right", no_wrap=True)
    for model in report.models:
        if model.status is not Status.OK:
            table.add_row(output.safe(model.model), *["-"] * 7, f"[red]{model.status.value}[/]")
            continue
        found = [f"[red]{n:,}[/]" if n else "0" for n in model.counts().values()]
        status = "[red]drift[/]" if model.drift else "[green]ok[/]"
        table.add_row(output.safe(model.model), count(model.rows), count(model.cached_ids), count(model.cached_keys), *found, status)
    out.print(table)
    for model in report.models:
        _drift_findings(output, model, output.limit)
    out.print(f"\n[dim]Compared: {escape(VERIFY_SCOPE)}.[/]", soft_wrap=True)
    totals = report.counts()
    rows = sum(m.rows or 0 for m in report.models)
    summary = f"{plural(len(report.models), 'model')}, {plural(rows, 'row')} compared in {report.seconds:.2f} s"
    unread = sum(1 for m in report.models if m.status is not Status.OK)
    verdict = [f"{unread:,} not read"] if unread else []
    if report.drifted:
        verdict.insert(0, (
            f"drift in {plural(len(report.drifted), 'model')} ({totals['stale']:,} stale, {totals['missing']:,} "
            f"missing, {totals['extra']:,} extra, {plural(totals['key_drift'], 'key')} drifted)"
        ))
    out.print(f"{summary}: " + (f"[red]{', '.join(verdict)}[/]" if verdict else "[green]no drift[/]"), soft_wrap=True)


def _drift_findings(output: Output, model: ModelDrift, limit: int) -> None:
    out = output.out
    if model.status is not Status.OK:
        out.print(f"\n[bold]{output.safe(model.model)}[/]: [red]{output.safe(model.error or '')}[/]", soft_wrap=True)
        return
    notes = ["its caches were reset: populated now, in the snapshot compared"] if model.populated else []
    if model.populate_error:
        notes.append(f"[red]populate failed[/]: {output.safe(model.populate_error)}")
    if model.unloaded:
        notes.append(f"{model.unloaded:,} cached objects have columns not loaded (those were not compared)")
    if not model.drift and not notes:
        return
    out.print(f"\n[bold]{output.safe(model.model)}[/]", soft_wrap=True)
    for note in notes:
        out.print(f"  {note}", soft_wrap=True)

    def value(v: Any) -> str:
        return output.safe(json.dumps(json_value(v), ensure_ascii=False))

    def stale(row: StaleRow) -> str:
        columns = ", ".join(f"{output.safe(name)} {value(old)} → {value(new)}" for name, (old, new) in row.columns.items())
        moved = f"  [yellow]key moved[/] {output.safe(format_key(row.cached_key))} → {output.safe(format_key(row.table_key))}"
        return f"id {output.safe(str(row.id))}  {columns}{moved if row.key_moved else ''}"

    def drifted(entry: KeyDrift) -> str:
        now = f"row{'s' * (len(entry.table_ids) > 1)} {output.safe(ids_text(entry.table_ids))}" if entry.table_ids else "no row"
        return f"key {output.safe(format_key(entry.key))}  cached id {output.safe(str(entry.cached_id))}, now {now}"

    def listed(title: str, items: list, line: Callable[[Any], str]) -> None:
        if items:
            out.print(f"  [bold]{title}[/] ([red]{len(items):,}[/])")
            for item in items[:limit]:
                out.print("    " + line(item), soft_wrap=True)
            if len(items) > limit:
                out.print(f"    [dim]… and {len(items) - limit:,} more (raise --limit, or --json for all)[/]")

    listed("Stale", model.stale, stale)
    for title, ids in (("Missing", model.missing), ("Extra", model.extra)):
        if ids:
            out.print(f"  [bold]{title}[/] ([red]{len(ids):,}[/]): ids {output.safe(ids_text(ids, limit))}", soft_wrap=True)
    listed("Key drift", model.key_drift, drifted)
