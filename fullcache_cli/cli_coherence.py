"""The coherence commands: ``fullcache coherence install|uninstall|status``,
``fullcache invalidate`` and ``fullcache watch``. Each parses its options,
calls one function of :mod:`fullcache_cli.coherence_admin` and renders the
report; the error boundary is the main group's (cli.py registers them)."""

from __future__ import annotations

import click

from .cli import EXIT_PROBLEMS, Target, command_options


@click.group("coherence")
def coherence_group() -> None:
    """Change capture for caches coherent across processes (PostgreSQL, SQLite).

    \b
    Example:
      fullcache coherence install --models myapp.models
      fullcache coherence status
    """


@coherence_group.command("install")
@click.argument("names", nargs=-1, metavar="[MODEL]...")
@click.option("--sql", "sql_only", is_flag=True, help="Print the SQL instead of running it (for a migration).")
@command_options
def install_command(ctx: click.Context, names, sql_only, target: Target, output) -> None:
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

    output.emit(install(target.url, target.select(list(names)), sql_only))


@coherence_group.command("uninstall")
@click.option("--sql", "sql_only", is_flag=True, help="Print the SQL instead of running it.")
@command_options
def uninstall_command(ctx: click.Context, sql_only, target: Target, output) -> None:
    """Remove change capture: every fullcache trigger and the fullcache schema (WRITES).

    It writes fullcache's own objects only, never your tables' rows.

    \b
    Example:
      fullcache coherence uninstall
    """
    from .coherence_admin import uninstall

    output.emit(uninstall(target.url, sql_only))


@coherence_group.command("status")
@click.argument("names", nargs=-1, metavar="[MODEL]...")
@command_options
def status_command(ctx: click.Context, names, target: Target, output) -> None:
    """Capture installed, triggers, generations, listeners, queue usage.

    Exits 1 when capture is missing or a trigger is missing or not enabled
    ALWAYS. Read-only.

    \b
    Example:
      fullcache coherence status --json
    """
    from .coherence_admin import status

    report = status(target.url, target.select(list(names)))
    output.emit(report)
    ctx.exit(0 if report.ok else EXIT_PROBLEMS)


@click.command("invalidate")
@click.argument("names", nargs=-1, metavar="MODEL...")
@click.option("--all", "everything", is_flag=True, help="Every cached model.")
@command_options
def invalidate_command(ctx: click.Context, names, everything, target: Target, output) -> None:
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
    output.emit(invalidate(target.url, target.select(list(names))))


@click.command("watch")
@click.argument("names", nargs=-1, metavar="[MODEL]...")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many notifications.")
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS", help="Stop after this long.")
@command_options
def watch_command(ctx: click.Context, names, count, timeout, target: Target, output) -> None:
    """Show the cached tables' change notifications live (PostgreSQL).

    Table, transaction, sender pid and delay from the write; --json prints
    one JSON object per line. Read-only; Ctrl-C ends it.

    \b
    Example:
      fullcache watch Genre --json
    """
    from .coherence_admin import watch

    watch(target.url, target.select(list(names)), output.emit_line, count=count, timeout=timeout)


COMMANDS = (coherence_group, invalidate_command, watch_command)
