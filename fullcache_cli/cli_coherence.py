"""The coherence commands: ``fullcache coherence install|uninstall|status``,
``fullcache invalidate`` and ``fullcache watch``. Each parses its options,
calls one function of :mod:`fullcache_cli.coherence_admin` and renders the
report; the error boundary is the main group's."""

from __future__ import annotations

import json

import click

from .cli import EXIT_PROBLEMS, Target, _output, database_options, output_options

WRITES = "It writes fullcache's own objects only, never your tables' rows."


@click.group("coherence")
def coherence_group() -> None:
    """Change capture for coherent caches across processes (PostgreSQL, SQLite).

    \b
    Example:
      fullcache coherence install --models myapp.models
      fullcache coherence status
    """


@coherence_group.command("install")
@click.argument("names", nargs=-1, metavar="[MODEL]...")
@click.option("--sql", "sql_only", is_flag=True, help="Print the SQL instead of running it (for a migration).")
@database_options
@output_options
@click.pass_context
def install_command(ctx, names, sql_only, models_spec, database_url, connect_timeout, statement_timeout, as_json):
    """Install change capture on the cached models' tables (WRITES).

    PostgreSQL: a schema "fullcache" (a change log and two functions) and one
    statement-level trigger "fullcache_capture" per table; SQLite: a table
    "fullcache_changes" and three triggers per table. Running it again
    changes nothing. It writes fullcache's own objects only, never your
    tables' rows.

    \b
    Example:
      fullcache coherence install --models myapp.models
      fullcache coherence install --sql > migration.sql
    """
    from .coherence_admin import install

    _change(ctx, as_json, sql_only, lambda target: install(target._url, target.select(list(names)), sql_only),
            models_spec, database_url, connect_timeout, statement_timeout)


@coherence_group.command("uninstall")
@click.option("--sql", "sql_only", is_flag=True, help="Print the SQL instead of running it.")
@database_options
@output_options
@click.pass_context
def uninstall_command(ctx, sql_only, models_spec, database_url, connect_timeout, statement_timeout, as_json):
    """Remove change capture: every fullcache trigger and the fullcache schema (WRITES).

    It writes fullcache's own objects only, never your tables' rows.

    \b
    Example:
      fullcache coherence uninstall
    """
    from .coherence_admin import uninstall

    _change(ctx, as_json, sql_only, lambda target: uninstall(target._url, sql_only),
            models_spec, database_url, connect_timeout, statement_timeout)


@click.command("invalidate")
@click.argument("names", nargs=-1, metavar="MODEL...")
@click.option("--all", "everything", is_flag=True, help="Every cached model.")
@database_options
@output_options
@click.pass_context
def invalidate_command(ctx, names, everything, models_spec, database_url, connect_timeout, statement_timeout,
                       as_json):
    """Tell every listening process to drop these models' caches (WRITES).

    One change-log row and one notification per table, in one transaction:
    after writes no trigger saw (a restore with triggers disabled, DDL). It
    writes fullcache's own objects only, never your tables' rows.

    \b
    Example:
      fullcache invalidate Genre DataSource
      fullcache invalidate --all
    """
    from .coherence_admin import invalidate

    if not names and not everything:
        raise click.UsageError("name the models to invalidate, or pass --all")
    _change(ctx, as_json, False, lambda target: invalidate(target._url, target.select(list(names))),
            models_spec, database_url, connect_timeout, statement_timeout)


def _change(ctx, as_json, sql_only, action, *target_options):
    output = _output(ctx, as_json)
    target = Target(ctx, *target_options)
    report = action(target)
    if as_json:
        output.json(report.to_json())
    elif sql_only:
        output.out.file.write(report.sql)
    else:
        render_change(output, report)


def render_change(output, report) -> None:
    from rich.markup import escape

    done = {"install": "Installed change capture", "uninstall": "Removed change capture",
            "invalidate": "Invalidated"}[report.action]
    output.out.print(f"{done} on {escape(report.database)} ({report.backend})", soft_wrap=True)
    for table in report.tables:
        output.out.print(f"  {escape(table)}", soft_wrap=True)
    for verb, names in (("created", report.created), ("removed", report.removed)):
        for name in names:
            output.out.print(f"  {verb}: {escape(name)}", soft_wrap=True)
    if report.action == "install" and not report.created:
        output.out.print("  nothing to change: already installed")


@coherence_group.command("status")
@click.argument("names", nargs=-1, metavar="[MODEL]...")
@database_options
@output_options
@click.pass_context
def status_command(ctx, names, models_spec, database_url, connect_timeout, statement_timeout, as_json):
    """Capture installed, triggers, generations, listeners, queue usage.

    Exits 1 when capture is missing or a trigger is missing or not enabled
    ALWAYS. Read-only.

    \b
    Example:
      fullcache coherence status --json
    """
    from .coherence_admin import status

    output = _output(ctx, as_json)
    target = Target(ctx, models_spec, database_url, connect_timeout, statement_timeout)
    report = status(target._url, target.select(list(names)))
    if as_json:
        output.json(report.to_json())
    else:
        render_status(output, report)
    ctx.exit(0 if report.ok else EXIT_PROBLEMS)


def render_status(output, report) -> None:
    from rich.markup import escape
    from rich.table import Table

    capture = "database triggers" if report.installed else "not installed (ORM fallback: raw SQL invisible)"
    table = Table(title=f"Coherence on {escape(report.database)}: capture {capture}", title_justify="left")
    for name, justify in (("Model", "left"), ("Table", "left"), ("Trigger", "left"), ("Generation", "right"),
                          ("Commits/min", "right")):
        table.add_column(name, justify=justify)
    for row in report.tables:
        trigger = escape(row.trigger) if row.trigger else "[red]missing[/]"
        table.add_row(escape(row.model), escape(row.table), trigger, _n(row.generation), _n(row.commits_last_minute))
    output.out.print(table)
    if report.backend == "postgresql":
        output.out.print(f"Listeners: {len(report.listeners)}; notification queue {report.queue_usage:.1%} used")
        for listener in report.listeners:
            output.out.print(f"  pid {listener['pid']} from {escape(str(listener['client']))} since "
                             f"{escape(listener['backend_start'])}", soft_wrap=True)
    for warning in report.warnings:
        output.warning(warning)


def _n(value) -> str:
    return "-" if value is None else f"{value:,}"


@click.command("watch")
@click.argument("names", nargs=-1, metavar="[MODEL]...")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many notifications.")
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS", help="Stop after this long.")
@database_options
@output_options
@click.pass_context
def watch_command(ctx, names, count, timeout, models_spec, database_url, connect_timeout, statement_timeout,
                  as_json):
    """Show the cached tables' change notifications live (PostgreSQL).

    Table, transaction, sender pid and delay from the write; --json prints
    one JSON object per line. Read-only; Ctrl-C ends it.

    \b
    Example:
      fullcache watch Genre --json
    """
    from rich.markup import escape

    from .coherence_admin import watch

    output = _output(ctx, as_json)
    target = Target(ctx, models_spec, database_url, connect_timeout, statement_timeout)

    def show(event) -> None:
        if as_json:
            output.out.file.write(json.dumps(event.to_json()) + "\n")
            output.out.file.flush()
        else:
            delay = "-" if event.delay_ms is None else f"{event.delay_ms:,.1f} ms"
            output.out.print(f"{escape(event.table)}  txid {event.txid if event.txid is not None else '-'}  "
                             f"pid {event.sender_pid}  delay {delay}", soft_wrap=True)

    watch(target._url, target.select(list(names)), show, count=count, timeout=timeout)


COMMANDS = (coherence_group, invalidate_command, watch_command)
