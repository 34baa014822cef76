"""verify's report for people: each model's drift, row by row.
"""

from __future__ import annotations

import json
from typing import Any, Callable
from rich.markup import escape
from rich.table import Table

from ..reports import (
    VERIFY_SCOPE,
    KeyDrift,
    ModelDrift,
    StaleRow,
    Status,
    VerifyReport,
    format_key,
    ids_text,
    json_value,
    plural,
)
from .output import Output, render
from .text import count


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
