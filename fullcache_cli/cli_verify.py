"""The verify command: ``fullcache verify [MODEL]... [--after S] [--listen]``.
It warms, waits, and compares through :func:`fullcache_cli.verify`; the
error boundary is the main group's (cli.py registers it)."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Iterator

import click

from .cli import EXIT_PROBLEMS, Target, _report, command_options
from .defaults import DEFAULT_LIMIT


def _wait(seconds: float) -> None:
    import time

    time.sleep(seconds)


@contextmanager
def _listening(database, models) -> Iterator[None]:
    """fullcache's coherence listener, running for ``models`` (verify --listen)."""
    from sqlalchemy import create_engine

    from . import coherence

    # The listener follows the database as the application does: through the
    # URL as given (fullcache's own engine opens a SQLite file read-only by
    # URI, a name the listener's own connections do not take).
    engine = create_engine(database.url)
    handle = coherence.start(engine, [model.cls for model in models])
    try:
        yield
    finally:
        handle.stop()
        engine.dispose()


@click.command("verify")
@click.argument("names", nargs=-1, metavar="[MODEL]...")
@click.option(
    "--after", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
    help="Wait this long after warming before comparing (default 0: a check of the warm itself).",
)
@click.option(
    "--listen", is_flag=True,
    help="Keep the caches coherent meanwhile: run fullcache's listener (coherence.start) from before the warm.",
)
@click.option(
    "--limit", type=click.IntRange(min=0), default=DEFAULT_LIMIT, show_default=True,
    help="Longest list shown to people (--json shows every list whole).",
)
@command_options
def verify_command(ctx: click.Context, names, after, listen, limit, target: Target, output) -> None:
    """Warm, wait, then compare the caches with their tables, row by row.

    Per model: cached rows that differ now (which columns, and whether the
    key moved), rows the cache lacks, cached rows deleted since, and keys
    that now belong to another row or to none. Mapped column values are
    compared; relationships are not. Exits 0 when nothing drifted, 1 on
    drift or when a model could not be read.

    \b
    Example:
      fullcache verify Genre Library --after 60
      fullcache verify Genre Library --after 60 --listen
      fullcache verify --json > drift.json
    """
    selected = target.select(list(names))

    def work(database, progress):
        from .verifying import verify
        from .warming import warm

        with _listening(database, selected) if listen else nullcontext():
            warmed = warm(database, selected, progress=progress, lookup_samples=0)
            # On stderr with --json too: a script may wait for it before writing.
            output.err.print(
                f"Warmed {len(warmed.models)} model{'s' * (len(warmed.models) != 1)} in {warmed.seconds:.2f} s"
                + (f"; comparing after {after:g} s" if after else "; comparing now"),
                soft_wrap=True,
            )
            if after:
                _wait(after)
            report = verify(database, selected)
        report.after_seconds = after
        return report

    report = _report(output, target, work, progress=True)
    ctx.exit(0 if report.ok else EXIT_PROBLEMS)


COMMANDS = (verify_command,)
