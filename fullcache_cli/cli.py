"""The command line: parse options, call the library, render its report.

This module imports only click at start-up; SQLAlchemy and rich load inside
the commands that need them, so ``fullcache --help`` stays quick. The one
error boundary is :class:`FullCacheGroup`: fullcache's own exceptions become a
one-line message and their exit code (0 fine, 1 problems or not found, 2
usage or configuration, 130 interrupted); ``--traceback`` adds the stack.
"""

from __future__ import annotations

import functools
import sys
from contextlib import contextmanager, nullcontext, redirect_stdout
from typing import Any, Callable, Iterator, List, Optional

import click

from .defaults import DEFAULT_CONNECT_TIMEOUT, DEFAULT_LIMIT, DEFAULT_MODELS, DEFAULT_REPEAT
from .reports import KINDS, Status

TRACEBACK = "fullcache.traceback"
SECRETS = "fullcache.urls"

EXIT_PROBLEMS = 1
EXIT_INTERRUPTED = 130


def _remember_url(ctx: click.Context, url: Optional[str]) -> None:
    """Note a URL whose password must never be printed."""
    if url:
        ctx.meta.setdefault(SECRETS, []).append(url)


def _redactor(ctx: click.Context) -> Callable[[str], str]:
    from .masking import redactor

    return redactor(lambda: ctx.meta.get(SECRETS, []))


def _output(ctx: click.Context, as_json: bool = False):
    from .render import Output, make_console

    redact = _redactor(ctx)
    return Output(make_console(sys.stdout, redact), make_console(sys.stderr, redact), as_json)


def _fail(ctx: click.Context, code: int, message: str, error: BaseException) -> None:
    output = _output(ctx)
    if ctx.meta.get(TRACEBACK):
        import traceback

        output.err.file.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    output.error(message)
    ctx.exit(code)


class FullCacheGroup(click.Group):
    """The error boundary of every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt as error:
            _fail(ctx, EXIT_INTERRUPTED, "interrupted: nothing was written (the transaction was rolled back)", error)
        except Exception as error:
            from .errors import FullCacheError, describe

            if isinstance(error, FullCacheError):
                _fail(ctx, error.exit_code, str(error), error)
            _fail(ctx, EXIT_PROBLEMS, f"unexpected {describe(error)} (rerun with --traceback to report it)", error)


def _set_traceback(ctx: click.Context, _param: Any, value: bool) -> None:
    if value:
        ctx.meta[TRACEBACK] = True


def traceback_option(f: Callable) -> Callable:
    return click.option(
        "--traceback",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_traceback,
        help="Show the full stack of an error (for bug reports).",
    )(f)


def _with_flag(error: Exception, flag: str) -> Exception:
    """The library's error, naming the command line's way to fix it."""
    return type(error)(f"{error} ({flag})")


class Target:
    """The models and database one command works on."""

    def __init__(self, ctx: click.Context, models_spec, database_url, connect_timeout, statement_timeout) -> None:
        from .database import open_database, resolve_url
        from .errors import ModelsNotFound, NoDatabaseURL, NoModelsModule
        from .loading import load_models, require_models

        _remember_url(ctx, database_url)
        try:
            with redirect_stdout(_output(ctx).err.file):  # prints at import: see _user_code
                self.module = load_models(models_spec)
            self.models = require_models(self.module)
        except (NoModelsModule, ModelsNotFound) as error:
            raise _with_flag(error, "--models or FULLCACHE_MODELS") from error
        try:
            self._url = resolve_url(database_url, self.module)
        except NoDatabaseURL:
            raise NoDatabaseURL(
                "no database URL: pass --database-url, set FULLCACHE_DATABASE_URL or DATABASE_URL, "
                "or give the models module a DATABASE_URL"
            ) from None
        _remember_url(ctx, self._url)
        self._open = functools.partial(open_database, self._url, connect_timeout, statement_timeout)

    def select(self, names: List[str]):
        """The models named (all when none is), as the library resolves them."""
        from .loading import resolve_models

        return resolve_models(self.models, names)

    @contextmanager
    def database(self) -> Iterator[Any]:
        database = self._open()
        try:
            yield database
        finally:
            database.dispose()


def database_options(f: Callable) -> Callable:
    """--models, --database-url and the timeouts, shared by every command:
    the command receives them as one ``target``."""

    @functools.wraps(f)
    def command(*args: Any, models_spec, database_url, connect_timeout, statement_timeout, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        target = Target(ctx, models_spec, database_url, connect_timeout, statement_timeout)
        return f(*args, target=target, **kwargs)

    options = [
        click.option(
            "--models",
            "-m",
            "models_spec",
            metavar="MODULE",
            default=DEFAULT_MODELS,
            show_default=True,
            envvar="FULLCACHE_MODELS",
            show_envvar=True,
            help="Models module: a dotted name importable from the current folder, or a .py path.",
        ),
        click.option(
            "--database-url",
            metavar="URL",
            # The first set wins: FULLCACHE_DATABASE_URL, then DATABASE_URL.
            envvar=["FULLCACHE_DATABASE_URL", "DATABASE_URL"],
            show_envvar=True,
            help="Database to read; without it, the models module's DATABASE_URL.",
        ),
        click.option(
            "--connect-timeout",
            type=click.FloatRange(min=0.1),
            default=DEFAULT_CONNECT_TIMEOUT,
            show_default=True,
            metavar="SECONDS",
            help="Give up connecting after this long.",
        ),
        click.option(
            "--statement-timeout",
            type=click.FloatRange(min=0.001),
            default=None,
            metavar="SECONDS",
            help="PostgreSQL: cancel any one statement that runs longer (that model's error).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def output_options(f: Callable) -> Callable:
    """--json and --traceback: the command receives its ``output``, made
    before the models module loads (so what it prints goes to stderr)."""

    @functools.wraps(f)
    def command(*args: Any, as_json: bool, **kwargs: Any) -> Any:
        return f(*args, output=_output(click.get_current_context(), as_json), **kwargs)

    command = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")(command)
    return traceback_option(command)


def command_options(f: Callable) -> Callable:
    """Every command's options: the database ones (as ``target``) and the
    output ones (as ``output``), and the click context first."""
    return database_options(output_options(click.pass_context(f)))


@contextmanager
def _user_code(output) -> Iterator[None]:
    """While the application's code runs: what it prints goes to stderr (stdout
    carries the report alone: one JSON document with --json), and its log
    records and warnings become one line each on stderr, never a multi-line
    traceback."""
    import logging

    class OneLine(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                message = record.getMessage()
            except Exception:
                # Arguments that do not fit the format: show the format, and
                # never raise into the application's code (logging does not).
                message = str(record.msg)
            first = (message.strip().splitlines() or [""])[0]
            output.err.print(f"[dim]log {record.levelname.lower()} {record.name}:[/] {_escape(first)}", soft_wrap=True)

    handler = OneLine(logging.WARNING)
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [handler]
    logging.captureWarnings(True)
    try:
        with redirect_stdout(output.err.file):
            yield
    finally:
        logging.captureWarnings(False)
        root.handlers = saved


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _progress(output):
    if output.as_json or not output.err.is_terminal:
        return nullcontext(None)
    from .render import RichProgress

    return RichProgress(output.err)


@click.group(cls=FullCacheGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fullcache", prog_name="fullcache")
@traceback_option
def cli() -> None:
    """Warm, check and measure the full-table caches of SQLAlchemy models.

    fullcache loads your models module, finds every model that keeps its whole
    table in memory (HasFullTableCache, fullcache's or your own copy), warms
    it inside a read-only transaction that is rolled back, and reports rows,
    key collisions, key errors, merge failures, warm time, memory and lookup
    timings. It never writes to your database.

    \b
    Example:
      fullcache warm
      fullcache check --models myapp.models --database-url postgresql://app@db/app
    """


@cli.command("models")
@command_options
def models_command(ctx: click.Context, target: Target, output) -> None:
    """List the cached models, their tables, mixins and row counts.

    \b
    Example:
      fullcache models --models myapp.models
    """
    from .listing import list_models

    report = _report(output, target, lambda database, _: list_models(database, target.models))
    ctx.exit(EXIT_PROBLEMS if report.unreadable else 0)


def _report(output, target: Target, work: Callable[[Any, Any], Any], progress: bool = False) -> Any:
    """Run ``work(database, progress display or None)`` while the
    application's code is fenced (see _user_code), print its report, and
    return it."""
    display = _progress(output) if progress else nullcontext(None)
    with _user_code(output), target.database() as database, display as shown:
        report = work(database, shown)
    output.emit(report)
    return report


def _warm(output, target: Target, names, **options):
    from .warming import check

    selected = target.select(list(names))
    return _report(
        output, target, lambda database, progress: check(database, selected, progress=progress, **options), True
    )


@cli.command()
@click.argument("names", nargs=-1, metavar="[MODEL]...")
@command_options
def warm(ctx: click.Context, names, target: Target, output) -> None:
    """Warm every cached model (or those named) and report what each got.

    Exits 0 when it could report, 1 when a model could not be read at all.

    \b
    Example:
      fullcache warm Genre DataSource --json
    """
    report = _warm(output, target, names)
    ctx.exit(EXIT_PROBLEMS if report.unreadable else 0)


@cli.command()
@click.argument("names", nargs=-1, metavar="[MODEL]...")
@click.option(
    "--allow",
    "allowed",
    multiple=True,
    type=click.Choice(KINDS),
    help="Accept problems of this kind (repeatable).",
)
@click.option(
    "--max-warm-seconds",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="A model that takes longer to warm is a problem.",
)
@click.option(
    "--junit-xml",
    type=click.Path(dir_okay=False, writable=True),
    metavar="PATH",
    help="Also write one JUnit test case per model here.",
)
@command_options
def check(ctx: click.Context, names, allowed, max_warm_seconds, junit_xml, target: Target, output) -> None:
    """CI smoke check: warm, then exit 1 if any problem was found.

    Problems: collisions, key errors, a None key shared by rows, populate
    errors, merge failures, unreadable models (and slow ones, with
    --max-warm-seconds).

    \b
    Example:
      fullcache check --models myapp.models --allow none_key --junit-xml fullcache.xml
    """
    report = _warm(output, target, names, allow=allowed, max_warm_seconds=max_warm_seconds)
    from .coherence_admin import capture_warning

    warning = capture_warning(target._url)
    if warning:
        output.warning(warning)
    if junit_xml:
        from .render import junit_xml as to_junit

        with open(junit_xml, "w", encoding="utf-8") as stream:
            stream.write(_redactor(ctx)(to_junit(report)))
    ctx.exit(0 if report.ok else EXIT_PROBLEMS)


@cli.command("inspect")
@click.argument("model", metavar="MODEL")
@click.option(
    "--limit", type=click.IntRange(min=0), default=DEFAULT_LIMIT, show_default=True,
    help="Longest list shown to people (--json shows every list whole).",
)
@command_options
def inspect_command(ctx: click.Context, model, limit, target: Target, output) -> None:
    """Everything warm observes about one model, in full.

    Every collision with all its ids, every key error, merge failure and None
    key, the shapes of the keys, the mixin's statistics and a sample of
    entries. Exits 1 when the model could not be read.

    \b
    Example:
      fullcache inspect DeliveryMechanism --limit 5
    """
    from .inspecting import inspect_model

    (chosen,) = target.select([model])
    report = _report(output, target, lambda database, _: inspect_model(database, chosen, limit=limit))
    ctx.exit(EXIT_PROBLEMS if report.model.status is not Status.OK else 0)


@cli.command("lookup")
@click.argument("model", metavar="MODEL")
@click.argument("key", metavar="KEY")
@click.option("--id", "by_id", is_flag=True, help="KEY is a primary key: look it up with by_id.")
@click.option(
    "--repeat", type=click.IntRange(min=1), default=DEFAULT_REPEAT, show_default=True,
    help="Lookups timed, from the cache and from the database.",
)
@command_options
def lookup_command(ctx: click.Context, model, key, by_id, repeat, target: Target, output) -> None:
    """Look KEY up as the application does, and time it against the database.

    KEY is read to fit the cache's key types: text as is, numbers coerced,
    tuple keys as a JSON array. Exits 1 when nothing is found (as grep does).

    \b
    Example:
      fullcache lookup DeliveryMechanism '["application/epub+zip", "Adobe DRM"]'
      fullcache lookup Library 3 --id
    """
    from .lookups import lookup

    (chosen,) = target.select([model])
    report = _report(output, target, lambda database, _: lookup(database, chosen, key, by_id=by_id, repeat=repeat))
    ctx.exit(0 if report.found else EXIT_PROBLEMS)


def main() -> None:
    try:
        cli(prog_name="fullcache")
    finally:
        # The process ends here: spare its last collection the walk over
        # every cached object (seconds for large tables), which frees nothing
        # that exiting does not free anyway.
        import gc

        gc.freeze()


def _add_coherence_commands() -> None:
    from .cli_coherence import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_add_coherence_commands()
