"""The one renderer: a report becomes one JSON document on stdout, or rich
tables for people; progress, warnings and errors go to stderr.

Everything written passes through the redactor, so a password that slipped
into an error message never reaches the screen or a log.
"""

from __future__ import annotations

import functools
import json
import shutil
from typing import Any, Callable, Optional, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .keys import format_key
from .masking import RedactingWriter
from .reports import (
    UNREADABLE_KINDS,
    ChangeReport,
    InspectReport,
    LookupReport,
    ModelReport,
    ModelsReport,
    Problem,
    Status,
    StatusReport,
    WarmReport,
    WatchEvent,
)


def make_console(stream: TextIO, redact: Callable[[str], str]) -> Console:
    """A console on ``stream`` that masks secrets in everything it writes."""
    writer = RedactingWriter(stream, redact)
    terminal = writer.isatty()
    width = None if terminal else max(shutil.get_terminal_size((160, 24)).columns, 160)
    return Console(file=writer, width=width, highlight=False, soft_wrap=False, emoji=False)


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


def human_us(us: Optional[float]) -> str:
    if us is None:
        return "-"
    return f"{us:,.1f} µs" if us < 1000 else f"{us / 1000:,.2f} ms"


def count(n: Optional[int]) -> str:
    return "-" if n is None else f"{n:,}"


def ids_text(ids: list, limit: int = 8) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f", … (+{len(ids) - limit})" if len(ids) > limit else "")


class Output:
    """Where one command's results go."""

    def __init__(self, out: Console, err: Console, as_json: bool = False) -> None:
        self.out = out
        self.err = err
        self.as_json = as_json

    # -- machines -----------------------------------------------------------

    def json(self, data: dict) -> None:
        self.out.file.write(json.dumps(data, indent=2, ensure_ascii=False, default=repr) + "\n")
        self.out.file.flush()

    # -- people -------------------------------------------------------------

    def error(self, message: str) -> None:
        self.err.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)

    def warning(self, message: str) -> None:
        self.err.print(f"[yellow]Warning:[/] {escape(message)}", soft_wrap=True)

    def emit(self, report: Any) -> None:
        """Print a report: JSON for machines, tables for people."""
        if self.as_json:
            self.json(report.to_json())
        else:
            render(report, self)

    def emit_line(self, event: Any) -> None:
        """Print one event of a stream: one JSON object a line, or one line
        for people."""
        if self.as_json:
            self.out.file.write(json.dumps(event.to_json(), ensure_ascii=False, default=repr) + "\n")
            self.out.file.flush()
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
    table = Table(title=f"Cached models ({escape(report.database)})", title_justify="left")
    for name, justify in (("Model", "left"), ("Table", "left"), ("Mixin", "left"), ("Rows", "right")):
        table.add_column(name, justify=justify)
    for row in report.models:
        mixin = mixin_label(row.model.mixin, row.model.mixin_class)
        rows = count(row.rows) if row.error is None else f"[red]{escape(row.error)}[/]"
        table.add_row(row.model.name, row.model.table, escape(mixin), rows)
    output.out.print(table)


# Left out first, in this order, when the table is wider than the screen.
WARM_DROPPABLE = ("Ids", "DB p50", "Hit p50", "None keys", "Merge fails", "Memory", "Keys")
WARM_COLUMNS = (
    "Model", "Rows", "Ids", "Keys", "Collisions", "Key errors", "None keys",
    "Merge fails", "Warm", "Memory", "Hit p50", "DB p50", "Status",
)


@render.register
def render_warm(report: WarmReport, output: Output) -> None:
    """warm and check for people: the table, the problems, the totals."""
    out = output.out
    table = Table(title=f"Warmed {len(report.models)} models ({escape(report.database)})", title_justify="left")
    problems = report.problems()
    rows = [_warm_row(model, [p for p in problems if p.model == model.model]) for model in report.models]
    keep = _fitting(WARM_COLUMNS, rows, out.width, WARM_DROPPABLE)
    for name in keep:
        table.add_column(name, justify="left" if name in ("Model", "Status") else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(cell for name, cell in zip(WARM_COLUMNS, row) if name in keep))
    left_out = [name for name in WARM_COLUMNS if name not in keep]
    if left_out:
        table.caption = f"Too narrow for {', '.join(left_out)}: see --json or a wider terminal."
        table.caption_justify = "left"
    out.print(table)
    if problems:
        out.print(f"\n[bold]Problems[/] ({len(problems)})")
        for problem in problems:
            out.print(problem_line(problem), soft_wrap=True)
    out.print()
    out.print(totals(report, problems), soft_wrap=True)


def _warm_row(model: ModelReport, problems: list) -> list:
    def many(items: list) -> str:
        return f"[red]{len(items)}[/]" if items else "0"

    if model.status is not Status.OK:
        status = f"[red]{escape(model.status.value)}[/]"
        return [model.model] + ["-"] * 11 + [status]
    lookups = model.lookups
    status = "[green]ok[/]" if not problems else f"[red]{len(problems)} problem{'s' * (len(problems) != 1)}[/]"
    return [
        model.model,
        count(model.rows),
        count(model.cached_ids),
        count(model.cached_keys),
        many(model.collisions),
        many(model.key_errors),
        (f"[red]{len(model.none_keys)}[/]" if len(model.none_keys) > 1 else str(len(model.none_keys))),
        many(model.merge_failures),
        human_seconds(model.warm_seconds),
        human_bytes(model.memory_bytes),
        human_us(lookups.cache_p50_us) if lookups else "-",
        human_us(lookups.db_p50_us) if lookups else "-",
        status,
    ]

def problem_line(problem: Problem) -> str:
    parts = [f"[bold]{escape(problem.model)}[/]", f"[red]{problem.kind}[/]"]
    if problem.ids:
        parts.append(f"ids {escape(ids_text(problem.ids))}")
    if problem.key is not None:
        parts.append(f"key {escape(format_key(problem.key))}")
    if problem.error:
        parts.append(escape(problem.error))
    return "  " + "  ".join(parts)

def totals(report: WarmReport, problems: list) -> str:
    readable = [m for m in report.models if m.status is Status.OK]
    rows = sum(m.rows or 0 for m in readable)
    memory = sum(m.memory_bytes or 0 for m in readable)
    warm = sum(m.warm_seconds or 0 for m in readable)
    summary = (
        f"{len(report.models)} models, {rows:,} rows, {human_bytes(memory)} cached, "
        f"warmed in {human_seconds(warm)}"
    )
    if not problems:
        return f"{summary}: [green]no problems[/]"
    unreadable = sum(1 for p in problems if p.kind in UNREADABLE_KINDS)
    extra = f" ({unreadable} not read)" if unreadable else ""
    return f"{summary}: [red]{len(problems)} problem{'s' * (len(problems) != 1)}[/]{extra}"


def _fitting(columns: list, rows: list, width: int, droppable: tuple) -> list:
    """The columns to show: all of them if the table fits ``width``, else
    without the droppable ones, in their order, until it fits."""
    from rich.text import Text

    widths = {
        name: max([len(name)] + [Text.from_markup(row[i]).cell_len for row in rows])
        for i, name in enumerate(columns)
    }
    keep = list(columns)
    for name in droppable:
        if sum(widths[c] + 3 for c in keep) + 1 <= width:
            break
        keep.remove(name)
    return keep


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
            self._tasks[model] = self._progress.add_task(model, total=rows)
        else:
            self._progress.update(task, total=rows)

    def rows_loaded(self, model: str, rows: int) -> None:
        self._progress.update(self._tasks[model], completed=rows)

    def model_finished(self, report: ModelReport) -> None:
        task = self._tasks.get(report.model)
        if task is not None:
            total = self._progress.tasks[task].total
            self._progress.update(task, completed=total if total is not None else 1, total=total or 1)


def junit_xml(report: WarmReport) -> str:
    """One test case per model, failing with its problems, for CI systems."""
    from xml.etree import ElementTree as ET

    problems = report.problems()
    suite = ET.Element(
        "testsuite",
        name="fullcache check",
        tests=str(len(report.models)),
        failures=str(len({p.model for p in problems})),
        errors="0",
        time=f"{report.seconds:.3f}",
    )
    for model in report.models:
        case = ET.SubElement(
            suite, "testcase", classname=f"fullcache.{model.table}", name=model.model,
            time=f"{model.warm_seconds or 0:.3f}",
        )
        mine = [p for p in problems if p.model == model.model]
        if mine:
            failure = ET.SubElement(
                case, "failure", message=f"{len(mine)} problem{'s' * (len(mine) != 1)}", type="fullcache"
            )
            failure.text = "\n".join(
                " ".join(
                    part
                    for part in (
                        p.kind,
                        f"ids {ids_text(p.ids, 50)}" if p.ids else "",
                        f"key {format_key(p.key)}" if p.key is not None else "",
                        p.error or "",
                    )
                    if part
                )
                for p in mine
            )
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def _more(output: Output, shown: int, total: int) -> None:
    if total > shown:
        output.out.print(f"  [dim]… and {total - shown:,} more (raise --limit, or --json for all)[/]")


@render.register
def render_inspect(inspected: InspectReport, output: Output) -> None:
    """inspect for people: the model's figures, then each list capped."""
    model, limit, out = inspected.model, inspected.limit, output.out
    mixin = mixin_label(model.mixin, model.mixin_class)
    out.print(f"[bold]{escape(model.model)}[/] (table {escape(model.table)}, mixin {escape(mixin)}) in {escape(inspected.database)}", soft_wrap=True)
    if model.status is not Status.OK:
        out.print(f"  [red]{escape(model.status.value)}[/]: {escape(model.error or '')}", soft_wrap=True)
        return
    lookups = model.lookups
    figures = [
        f"rows {count(model.rows)}",
        f"cached ids {count(model.cached_ids)}",
        f"cached keys {count(model.cached_keys)}",
        f"warm {human_seconds(model.warm_seconds)}",
        f"memory {human_bytes(model.memory_bytes)}",
    ]
    if lookups:
        figures.append(
            f"hit p50/p99 {human_us(lookups.cache_p50_us)}/{human_us(lookups.cache_p99_us)}, "
            f"db p50/p99 {human_us(lookups.db_p50_us)}/{human_us(lookups.db_p99_us)} ({lookups.samples} samples)"
        )
    out.print("  " + " · ".join(figures), soft_wrap=True)
    if model.populate_error:
        out.print(f"  [red]populate error[/]: {escape(model.populate_error)}", soft_wrap=True)
    if model.lookup_error:
        out.print(f"  [red]lookup error[/]: {escape(model.lookup_error)}", soft_wrap=True)

    def section(title: str, items: list, line: Callable[[Any], str]) -> None:
        colour = "red" if items else "green"
        out.print(f"\n[bold]{title}[/] ([{colour}]{len(items):,}[/])")
        for item in items[:limit]:
            out.print("  " + line(item), soft_wrap=True)
        _more(output, min(limit, len(items)), len(items))

    section(
        "Collisions", model.collisions,
        lambda c: f"key {escape(format_key(c.key))}  ids {escape(ids_text(c.ids, 50))}  kept {c.kept_id}",
    )
    section("Key errors", model.key_errors, lambda e: f"id {e.id}  {escape(e.error)}")
    out.print(f"\n[bold]None keys[/] ({len(model.none_keys):,})")
    if model.none_keys:
        out.print("  ids " + escape(ids_text(model.none_keys, limit)), soft_wrap=True)
    section("Merge failures", model.merge_failures, lambda e: f"id {e.id}  {escape(e.error)}")
    out.print("\n[bold]Key types[/]")
    types = list(inspected.key_types.items())
    if types:
        out.print("  " + escape(", ".join(f"{shape}: {n:,}" for shape, n in types[:limit])), soft_wrap=True)
    _more(output, min(limit, len(types)), len(types))
    if inspected.stats:
        out.print("\n[bold]Mixin statistics[/]")
        out.print("  " + " · ".join(f"{name} {value}" for name, value in inspected.stats.items()), soft_wrap=True)
    entries = inspected.entries
    out.print(f"\n[bold]Entries[/] (first {len(entries):,} of {count(model.cached_keys)})")
    if entries:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("Key", "Id", "Object"):
            table.add_column(column)
        for entry in entries:
            table.add_row(escape(format_key(entry.key)), str(entry.id), escape(entry.repr))
        out.print(table)


@render.register
def render_lookup(report: LookupReport, output: Output) -> None:
    """lookup for people: where the row came from, its values, the timings."""
    console = output.out
    what = f"{escape(report.model)} {'id' if report.by == 'id' else 'key'} {escape(format_key(report.key))}"
    if not report.found:
        console.print(f"{what}: [red]not found[/]", soft_wrap=True)
        if report.error:
            console.print(f"  error: {escape(report.error)}", soft_wrap=True)
        if report.suggestions:
            console.print("  closest keys: " + ", ".join(escape(repr(s)) for s in report.suggestions), soft_wrap=True)
        return
    source = "[green]cache[/]" if report.source == "cache" else "[yellow]database[/]"
    console.print(f"{what}: found in {source}, id {report.id}", soft_wrap=True)
    if report.reason:
        console.print(f"  not from the cache because {escape(report.reason)}", soft_wrap=True)
    if report.shadows:
        console.print(f"  [red]this key shadows rows[/] {escape(ids_text(report.shadows, 50))}", soft_wrap=True)
    if report.merge is not None:
        merge = "[green]ok[/]" if report.merge.ok else f"[red]failed[/]: {escape(report.merge.error or '')}"
        console.print(f"  merge into a second session: {merge}", soft_wrap=True)
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("Column")
    table.add_column("Value")
    for name, value in (report.values or {}).items():
        table.add_row(escape(name), escape(json.dumps(value, ensure_ascii=False)))
    console.print(table)
    timing = []
    if report.cache_us is not None:
        timing.append(f"cached lookup {human_us(report.cache_us)}")
    if report.db_us is not None:
        timing.append(f"database by primary key {human_us(report.db_us)}")
    if timing:
        line = " vs ".join(timing) + f" (median of {report.repeat:,})"
        if report.speedup:
            line += f": {report.speedup:,}x faster from the cache"
        console.print("  " + line, soft_wrap=True)


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
    out.print(f"{done} on {escape(report.database)} ({report.backend})", soft_wrap=True)
    for table in report.tables:
        out.print(f"  {escape(table)}", soft_wrap=True)
    for verb, names in (("created", report.created), ("removed", report.removed)):
        for name in names:
            out.print(f"  {verb}: {escape(name)}", soft_wrap=True)
    if report.action == "install" and not report.created:
        out.print("  nothing to change: already installed")


@render.register
def render_coherence_status(report: StatusReport, output: Output) -> None:
    """coherence status: one row per table, the listeners, the warnings."""
    capture = "database triggers" if report.installed else "not installed (ORM fallback: raw SQL invisible)"
    table = Table(title=f"Coherence on {escape(report.database)}: capture {capture}", title_justify="left")
    for name, justify in (("Model", "left"), ("Table", "left"), ("Trigger", "left"), ("Generation", "right"),
                          ("Commits/min", "right")):
        table.add_column(name, justify=justify)
    for row in report.tables:
        trigger = escape(row.trigger) if row.trigger else "[red]missing[/]"
        table.add_row(escape(row.model), escape(row.table), trigger, count(row.generation),
                      count(row.commits_last_minute))
    output.out.print(table)
    if report.backend == "postgresql":
        output.out.print(f"Listeners: {len(report.listeners)}; notification queue {report.queue_usage:.1%} used")
        for listener in report.listeners:
            output.out.print(f"  pid {listener['pid']} from {escape(str(listener['client']))} since "
                             f"{escape(listener['backend_start'])}", soft_wrap=True)
    for warning in report.warnings:
        output.warning(warning)


@render.register
def render_watch_event(event: WatchEvent, output: Output) -> None:
    delay = "-" if event.delay_ms is None else f"{event.delay_ms:,.1f} ms"
    txid = "-" if event.txid is None else event.txid
    output.out.print(f"{escape(event.table)}  txid {txid}  pid {event.sender_pid}  delay {delay}", soft_wrap=True)
