"""The command line: parse options, call the library, render its report.

This module imports only click at start-up; SQLAlchemy and rich load inside
the commands that need them, so ``fullcache --help`` stays quick. The one
error boundary is :class:`FullCacheGroup`: fullcache's own exceptions become a
one-line message and their exit code (0 fine, 1 problems or not found, 2
usage or configuration, 130 interrupted); ``--traceback`` adds the stack.
"""

from __future__ import annotations

import functools
import os
import sys
from contextlib import contextmanager, nullcontext, redirect_stderr, redirect_stdout
from typing import Any, Callable, Iterator, List, Optional

import click

from .defaults import DEFAULT_CONNECT_TIMEOUT, DEFAULT_LIMIT, DEFAULT_MODELS


TRACEBACK = "fullcache.traceback"


SECRETS = "fullcache.urls"


SETTINGS = "fullcache.settings"


JUNIT = "fullcache.junit"


REPORT_STREAM = "report_stream"  # in the root context's obj: where the report goes (see fencing)


STREAMS = "fullcache.streams"  # stdout and stderr as they were before the command fenced them


EXIT_PROBLEMS = 1


EXIT_INTERRUPTED = 130


# stdout closed early (``fullcache check | head -1``): the code of a process
# killed by SIGPIPE, as shells report it, and nothing said.
EXIT_BROKEN_PIPE = 141


def _remember_url(ctx: click.Context, url: Optional[str]) -> None:
    """Note a URL whose password must never be printed."""
    if url:
        ctx.meta.setdefault(SECRETS, []).append(url)


def _redactor(ctx: click.Context) -> Callable[[str], str]:
    from .masking import redactor

    return redactor(lambda: ctx.meta.get(SECRETS, []))


def _streams(ctx: click.Context) -> tuple:
    """``(stdout, stderr)`` for fullcache's own output: as they were before
    the command fenced them (see _fenced); stdout is the copy of the
    original that the console script keeps for the report (see fencing)."""
    saved = ctx.meta.get(STREAMS)
    if saved is not None:
        return saved
    obj = ctx.find_root().obj
    report = obj.get(REPORT_STREAM) if isinstance(obj, dict) else None
    return report or sys.stdout, sys.stderr


def _output(ctx: click.Context, format: str = "table", limit: int = DEFAULT_LIMIT):
    from .render import Output, make_console

    redact = _redactor(ctx)
    out, err = _streams(ctx)
    return Output(make_console(out, redact), make_console(err, redact), format, limit, redact)


@contextmanager
def _fenced(ctx: click.Context) -> Iterator[None]:
    """Until the command ends, what the application's code writes to
    ``sys.stdout`` or ``sys.stderr`` (at import included) goes to stderr,
    passwords masked: stdout carries the report alone (one JSON document
    with --json). The console script fences file descriptor 1 as well."""
    ctx.meta[STREAMS] = _streams(ctx)
    err = _output(ctx).err.file
    with redirect_stdout(err), redirect_stderr(err):
        yield


def _fail(ctx: click.Context, code: int, message: str, error: BaseException) -> None:
    output = _output(ctx)
    if ctx.meta.get(TRACEBACK):
        import traceback

        output.err.file.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    output.error(message)
    _junit_error(ctx, message)
    ctx.exit(code)


def _junit_error(ctx: click.Context, message: str) -> None:
    """When --junit-xml was given, a report of one errored case saying why
    the check could not run."""
    junit = ctx.meta.get(JUNIT)
    if junit:
        from .render import junit_error_xml

        from .errors import ConfigError

        try:
            _write_junit(ctx, junit, junit_error_xml(message, _redactor(ctx)))
        except ConfigError:
            pass  # the report's own path is the error just said


def _write_junit(ctx: click.Context, path: str, xml: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(xml)
    except OSError as error:
        from .errors import ConfigError

        raise ConfigError(f"JUnit report {path!r} cannot be written: {error.strerror or error}; choose a writable path") from None


def _quiet_broken_pipe() -> None:
    """stdout's reader is gone: what is left to write goes nowhere, and
    exiting does not complain about the flush."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class FullCacheGroup(click.Group):
    """The error boundary of every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            _junit_error(ctx, error.format_message())  # a usage error, exit 2: CI still gets a report
            raise
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            _quiet_broken_pipe()
            ctx.exit(EXIT_BROKEN_PIPE)
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


def _settings(ctx: click.Context, strict: bool = True):
    """``[tool.fullcache]`` of the nearest pyproject.toml (read once). Not
    ``strict``, a bad file reads as no settings: its error is raised when a
    command starts work, once its own options (--junit-xml) are known."""
    from .config import Settings, load_settings
    from .errors import ConfigError

    root = ctx.find_root()
    if SETTINGS not in root.meta:
        try:
            root.meta[SETTINGS] = load_settings()
        except ConfigError as error:
            root.meta[SETTINGS] = error
    settings = root.meta[SETTINGS]
    if isinstance(settings, ConfigError):
        if strict:
            raise settings
        return Settings()
    return settings


SAMPLE_NOTE = (
    "no models module named (--models, FULLCACHE_MODELS, or models in pyproject.toml's [tool.fullcache]): "
    "using fullcache's built-in sample; point it at your application with --models myapp.models"
)


class Target:
    """The models and database one command works on: ``module``, ``models``,
    ``url`` (the resolved URL, password included: for connecting, never for
    printing) and ``model_timeout``."""

    def __init__(
        self, ctx: click.Context, models_spec, database_url, connect_timeout, statement_timeout, model_timeout=None
    ) -> None:
        from click.core import ParameterSource

        from .database import open_database, resolve_url
        from .errors import ModelsNotFound, NoDatabaseURL, NoModelsModule
        from .loading import load_models, require_models

        settings = _settings(ctx)
        source = ctx.get_parameter_source("models_spec")
        if source is ParameterSource.DEFAULT:
            # No false green: a check of the sample says nothing of the application.
            _output(ctx).note(SAMPLE_NOTE)
        elif source is ParameterSource.DEFAULT_MAP and settings.root is not None:
            # A dotted name in the file is importable from the file's folder.
            root = str(settings.root)
            if root not in sys.path:
                sys.path.insert(0, root)
        # The variable the file names comes before the usual ones; a flag, first.
        if settings.database_url_env and ctx.get_parameter_source("database_url") is not ParameterSource.COMMANDLINE:
            database_url = os.environ.get(settings.database_url_env) or database_url
        _remember_url(ctx, database_url)
        try:
            self.module = load_models(models_spec)  # what it prints goes to stderr: see _fenced
            self.models = require_models(self.module)
        except (NoModelsModule, ModelsNotFound) as error:
            raise _with_flag(error, "--models or FULLCACHE_MODELS") from error
        try:
            self.url = resolve_url(database_url, self.module)
        except NoDatabaseURL:
            configured = f"set {settings.database_url_env} (pyproject.toml's database-url-env), " if settings.database_url_env else ""
            raise NoDatabaseURL(
                f"no database URL: pass --database-url, {configured}set FULLCACHE_DATABASE_URL or DATABASE_URL, "
                "or give the models module a DATABASE_URL"
            ) from None
        _remember_url(ctx, self.url)
        self._open = functools.partial(open_database, self.url, connect_timeout, statement_timeout)
        self.model_timeout = model_timeout

    def select(self, names: List[str]):
        """The models named (all when none is), as the library resolves them."""
        from .loading import resolve_models

        return resolve_models(self.models, names)

    @contextmanager
    def database(self) -> Iterator[Any]:
        """The database, Ctrl-C cancelling the statement that runs on it."""
        from .cancelling import cancel_on_interrupt

        database = self._open()
        try:
            with cancel_on_interrupt(database.cancel):
                yield database
        finally:
            database.dispose()


def database_options(f: Callable) -> Callable:
    """--models, --database-url and the timeouts, shared by every command:
    the command receives them as one ``target``."""

    @functools.wraps(f)
    def command(
        *args: Any, models_spec, database_url, connect_timeout, statement_timeout, model_timeout, **kwargs: Any
    ) -> Any:
        ctx = click.get_current_context()
        with _fenced(ctx):
            target = Target(ctx, models_spec, database_url, connect_timeout, statement_timeout, model_timeout)
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
        seconds_option("--connect-timeout", 0.1, "Give up connecting after this long.", DEFAULT_CONNECT_TIMEOUT),
        seconds_option(
            "--statement-timeout", 0.001,
            "Cancel any one statement that runs longer (that model's populate error; SQLite: "
            "counted until its last row is read).",
        ),
        seconds_option(
            "--model-timeout", 0.001,
            "Stop a model whose whole warm runs longer (a timed_out problem); the next model is warmed.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def seconds_option(flag: str, minimum: float, help: str, default: Optional[float] = None) -> Callable:
    """An option of SECONDS, at least ``minimum``; its default shown when it has one."""
    return click.option(
        flag, type=click.FloatRange(min=minimum), default=default, show_default=default is not None,
        metavar="SECONDS", help=help,
    )


def output_options(formats: tuple = ("table", "json")) -> Callable[[Callable], Callable]:
    """--format (and --json, its shorthand) and --traceback: the command
    receives its ``output``, made before the models module loads."""

    def decorate(f: Callable) -> Callable:
        @functools.wraps(f)
        def command(*args: Any, as_json: bool, output_format: str, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            limit = kwargs.get("limit", DEFAULT_LIMIT)
            return f(*args, output=_output(ctx, "json" if as_json else output_format, limit), **kwargs)

        command = click.option(
            "--format",
            "output_format",
            type=click.Choice(formats),
            default="table",
            show_default=True,
            help="How to print the report" + (": github annotations, markdown for job summaries." if "github" in formats else "."),
        )(command)
        command = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout (--format json).")(command)
        return traceback_option(command)

    return decorate


def command_options(f: Optional[Callable] = None, *, formats: tuple = ("table", "json")) -> Callable:
    """Every command's options: the database ones (as ``target``) and the
    output ones (as ``output``), and the click context first."""
    if f is None:
        return functools.partial(command_options, formats=formats)
    return database_options(output_options(formats)(click.pass_context(f)))


@contextmanager
def _user_code(output) -> Iterator[None]:
    """While the application's code runs, its log records and warnings
    become one line each on stderr, never a multi-line traceback (what it
    prints already goes to stderr: see _fenced)."""
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
            level, name = output.safe(record.levelname.lower()), output.safe(record.name)
            output.err.print(f"[dim]log {level} {name}:[/] {output.safe(first)}", soft_wrap=True)

    handler = OneLine(logging.WARNING)
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [handler]
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.handlers = saved


def _progress(output):
    # isatty, not rich's is_terminal: FORCE_COLOR makes rich call a CI log a
    # terminal, and a progress display there is noise.
    if output.format != "table" or not output.err.file.isatty():
        return nullcontext(None)
    from .render import RichProgress

    return RichProgress(output.err)


@click.group(cls=FullCacheGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fullcache", prog_name="fullcache")
@traceback_option
@click.pass_context
def cli(ctx: click.Context) -> None:
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

    Settings may live in pyproject.toml's [tool.fullcache] table (models,
    allow, max-warm-seconds, baseline, statement-timeout, model-timeout,
    database-url-env); flags override them. Shell completion: eval "$(_FULLCACHE_COMPLETE=bash_source fullcache)".
    """
    from .config import command_defaults

    ctx.default_map = command_defaults(_settings(ctx, strict=False), ctx.command.commands)


def _report(
    output, target: Target, work: Callable[[Any, Any], Any], progress: bool = False, quiet: bool = False
) -> Any:
    """Run ``work(database, progress display or None)`` while the
    application's code is fenced (see _user_code), print its report (unless
    ``quiet``), and return it."""
    display = _progress(output) if progress else nullcontext(None)
    with _user_code(output), target.database() as database, display as shown:
        report = work(database, shown)
    if not quiet:
        output.emit(report)
    return report


def main() -> None:
    """The console script: stdout fenced for the report (see fencing), and
    the process ended with the command's exit code even when the models'
    code left threads running."""
    from .fencing import fence_stdout, finish

    try:
        cli.main(prog_name="fullcache", obj={REPORT_STREAM: fence_stdout()})
    except SystemExit as done:
        code = done.code
    else:  # pragma: no cover - standalone mode always exits
        code = 0
    finally:
        # The process ends here: spare its last collection the walk over
        # every cached object (seconds for large tables), which frees nothing
        # that exiting does not free anyway.
        import gc

        gc.freeze()
    try:
        sys.stdout.flush()  # what is still buffered: the reader may be gone
    except BrokenPipeError:
        _quiet_broken_pipe()
        code = EXIT_BROKEN_PIPE
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    finish(code)


def _add_commands() -> None:
    """The commands kept in modules of their own."""
    from .cli_coherence import COMMANDS as COHERENCE
    from .cli_commands import COMMANDS
    from .cli_verify import COMMANDS as VERIFY

    for command in COMMANDS + COHERENCE + VERIFY:
        cli.add_command(command)


_add_commands()
