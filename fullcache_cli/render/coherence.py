"""The coherence commands' reports for people: a change, the status, a
watched event.
"""

from __future__ import annotations

from rich.table import Table

from ..reports import ChangeReport, StatusReport, WatchEvent
from .output import Output, render
from .text import count


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
