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

from .defaults import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_LIMIT,
    DEFAULT_MERGE_CHECK_SECONDS,
    DEFAULT_MODELS,
    DEFAULT_REPEAT,
)
from .reports import KINDS, Status

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
    """The models and database one command works on."""

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
            self._url = resolve_url(database_url, self.module)
        except NoDatabaseURL:
            configured = f"set {settings.database_url_env} (pyproject.toml's database-url-env), " if settings.database_url_env else ""
            raise NoDatabaseURL(
                f"no database URL: pass --database-url, {configured}set FULLCACHE_DATABASE_URL or DATABASE_URL, "
                "or give the models module a DATABASE_URL"
            ) from None
        _remember_url(ctx, self._url)
        self._open = functools.partial(open_database, self._url, connect_timeout, statement_timeout)
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
            help="Cancel any one statement that runs longer (that model's populate error; SQLite: "
            "counted until its last row is read).",
        ),
        click.option(
            "--model-timeout",
            type=click.FloatRange(min=0.001),
            default=None,
            metavar="SECONDS",
            help="Stop a model whose whole warm runs longer (a timed_out problem); the next model is warmed.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


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


def show_secrets_option(f: Callable) -> Callable:
    return click.option(
        "--show-secrets",
        is_flag=True,
        help="Show values that are secrets (columns named like one, settings whose key names one) unmasked.",
    )(f)


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
    allow, max-warm-seconds, baseline, statement-timeout, database-url-env);
    flags override them. Shell completion: eval "$(_FULLCACHE_COMPLETE=bash_source fullcache)".
    """
    ctx.default_map = _defaults(_settings(ctx, strict=False), ctx.command.commands)


def _defaults(settings, commands) -> dict:
    """[tool.fullcache] as click's defaults, command by command: flags and
    environment variables still win."""
    common = {"models_spec": settings.models, "statement_timeout": settings.statement_timeout}
    checking = {
        "allowed": list(settings.allow) or None,
        "max_warm_seconds": settings.max_warm_seconds,
        "baseline": settings.baseline,
    }
    defaults = {}
    for name in commands:
        values = {**common, **(checking if name == "check" else {})}
        defaults[name] = {key: value for key, value in values.items() if value is not None}
    return defaults


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


def _warm(output, target: Target, names, quiet: bool = False, **options):
    """Warm (and judge) the models named; printed unless ``quiet``."""
    from .warming import check

    selected = target.select(list(names))
    return _report(
        output,
        target,
        lambda database, progress: check(
            database, selected, progress=progress, model_timeout=target.model_timeout, **options
        ),
        True,
        quiet=quiet,
    )


merge_check_option = click.option(
    "--merge-check-seconds",
    type=click.FloatRange(min=0),
    default=DEFAULT_MERGE_CHECK_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="Stop each model's merge check after this long; the report says how far it got.",
)


def _complete_models(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list:
    """Model names for shell completion: the models module is imported (as
    the command would), never connected to."""
    import io
    from contextlib import redirect_stderr

    from click.core import ParameterSource
    from click.shell_completion import CompletionItem

    try:
        spec = ctx.params.get("models_spec")
        if ctx.get_parameter_source("models_spec") in (None, ParameterSource.DEFAULT):
            spec = _settings(ctx, strict=False).models or spec
        from .loading import discover_models, load_models

        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            names = [model.name for model in discover_models(load_models(spec))]
    except (Exception, SystemExit):
        return []  # completion never fails loudly
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def limit_option(f: Callable) -> Callable:
    return click.option(
        "--limit", type=click.IntRange(min=0), default=DEFAULT_LIMIT, show_default=True,
        help="Problems shown per model to people, then a count of the rest (--json shows all).",
    )(f)


@cli.command()
@click.argument("names", nargs=-1, metavar="[MODEL]...", shell_complete=_complete_models)
@limit_option
@merge_check_option
@command_options
def warm(ctx: click.Context, names, limit, merge_check_seconds, target: Target, output) -> None:
    """Warm every cached model (or those named) and report what each got.

    Exits 0 when it could report, 1 when a model could not be read at all.

    \b
    Example:
      fullcache warm Genre DataSource --json
    """
    report = _warm(output, target, names, merge_check_seconds=merge_check_seconds)
    ctx.exit(EXIT_PROBLEMS if report.unreadable else 0)


class AllowRule(click.ParamType):
    """KIND, or MODEL:KIND for one model's problems of that kind."""

    name = "KIND|MODEL:KIND"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> str:
        model, colon, kind = str(value).rpartition(":")
        if kind not in KINDS:
            self.fail(f"{value!r} names no kind of problem; kinds: {', '.join(KINDS)} (or MODEL:KIND)", param, ctx)
        if colon and not model:
            self.fail(f"{value!r} names no model before ':' (MODEL:KIND)", param, ctx)
        return str(value)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        return [CompletionItem(kind) for kind in KINDS if kind.startswith(incomplete)]


def _remember_junit(ctx: click.Context, _param: Any, value: Optional[str]) -> Optional[str]:
    if value:
        ctx.meta[JUNIT] = value  # an error before the report still writes one (_fail)
    return value


@cli.command()
@click.argument("names", nargs=-1, metavar="[MODEL]...", shell_complete=_complete_models)
@click.option(
    "--allow",
    "allowed",
    multiple=True,
    type=AllowRule(),
    help=f"Accept problems of this KIND, or a model's (MODEL:KIND); repeatable. Kinds: {', '.join(KINDS)}.",
)
@click.option(
    "--max-warm-seconds",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="A model that takes longer to warm is a problem.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Known problems (a --write-baseline file or a previous --json report): they do not fail, new ones do.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write every problem found to FILE as a baseline (and accept them this run, unless --baseline is given).",
)
@click.option(
    "--max-growth",
    type=click.FloatRange(min=1, min_open=True),
    metavar="RATIO",
    help="With --baseline: a model whose warm time or memory grew past RATIO times the baseline's is a problem.",
)
@click.option(
    "--junit-xml",
    type=click.Path(dir_okay=False, writable=True),
    metavar="PATH",
    callback=_remember_junit,
    is_eager=True,  # known before any other option can fail
    help="Also write one JUnit test case per model here (an error case for a model not read).",
)
@click.option(
    "--verify",
    "verify_after",
    is_flag=True,
    help="Then compare the warmed caches with their tables (as fullcache verify): drift is a problem.",
)
@limit_option
@merge_check_option
@command_options(formats=("table", "json", "github", "markdown"))
def check(
    ctx: click.Context, names, allowed, max_warm_seconds, baseline, write_baseline, max_growth, junit_xml,
    verify_after, limit, merge_check_seconds, target: Target, output,
) -> None:
    """CI gate: warm, then exit 1 if a problem was found that is neither
    allowed nor known from the baseline.

    Problems: collisions, key errors, a None key shared by rows, populate
    errors, merge failures, unreadable models (and slow ones, with
    --max-warm-seconds; grown ones, with --max-growth; drifted ones, with
    --verify). With --format github
    each problem is an annotation, and $GITHUB_STEP_SUMMARY gets a Markdown
    summary when set.

    \b
    Example:
      fullcache check --models myapp.models --allow none_key --junit-xml fullcache.xml
      fullcache check --write-baseline fullcache-baseline.json   # once
      fullcache check --baseline fullcache-baseline.json --format github
    """
    from . import baseline as baselines
    from .errors import UsageError

    if junit_xml:
        _require_writable(junit_xml)
    if max_growth is not None and not baseline:
        raise UsageError("--max-growth compares with a baseline: give --baseline FILE as well")
    _known_models(target, allowed)
    from click.core import ParameterSource

    if write_baseline and ctx.get_parameter_source("baseline") is ParameterSource.DEFAULT_MAP:
        # The configured baseline is being written for the first time.
        baseline = baseline if os.path.exists(baseline) else None
    known = baselines.load_baseline(baseline) if baseline else None
    report = _warm(
        output, target, names, allow=allowed, max_warm_seconds=max_warm_seconds, baseline=known,
        max_growth=max_growth, quiet=write_baseline is not None and known is None,
        merge_check_seconds=merge_check_seconds, verify=verify_after,
    )
    if write_baseline is not None:
        baselines.write_baseline(report, write_baseline)
        if known is None:
            # Adopting the gate: what was found today is known from now on.
            baselines.apply_baseline(report, baselines.load_baseline(write_baseline))
            output.emit(report)
        output.note(f"baseline of {len(report.findings()):,} findings written to {write_baseline}")
    from .coherence_admin import capture_warning

    warning = capture_warning(target._url)
    if warning:
        output.warning(warning)
    if junit_xml:
        from .render import junit_xml as to_junit

        _write_junit(ctx, junit_xml, to_junit(report, _redactor(ctx)))
    if output.format == "github" and os.environ.get("GITHUB_STEP_SUMMARY"):
        from .render import markdown

        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(_redactor(ctx)(markdown(report, limit)))
    ctx.exit(0 if report.ok else EXIT_PROBLEMS)


def _require_writable(path: str) -> None:
    """Before the warm: the file can be written (its folder is made when
    missing, as test runners do), so that a whole warm is never lost to a
    wrong --junit-xml. A file that did not exist is not left behind."""
    from .errors import ConfigError

    existed = os.path.exists(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
        if not existed:
            os.remove(path)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        if isinstance(error, (FileExistsError, NotADirectoryError)):
            reason = "part of its folder is a file, not a folder"
        raise ConfigError(f"JUnit report {path!r} cannot be written: {reason}; choose a writable --junit-xml path") from None


def _known_models(target: Target, rules) -> None:
    """MODEL:KIND rules name models of the module (a typo would allow nothing)."""
    from .errors import UsageError
    from .loading import closest

    names = [model.name for model in target.models]
    for rule in rules:
        model, _, _kind = rule.rpartition(":")
        if model and model not in names:
            near = closest(model, names)
            hint = f"did you mean {near[0]!r}?" if near else f"models: {', '.join(names)}"
            raise UsageError(f"--allow {rule!r} names no cached model: {hint}")


@cli.command("inspect")
@click.argument("model", metavar="MODEL", shell_complete=_complete_models)
@click.option(
    "--limit", type=click.IntRange(min=0), default=DEFAULT_LIMIT, show_default=True,
    help="Longest list shown to people (--json shows every list whole).",
)
@show_secrets_option
@command_options
def inspect_command(ctx: click.Context, model, limit, show_secrets, target: Target, output) -> None:
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
    report = _report(
        output,
        target,
        lambda database, _: inspect_model(
            database, chosen, limit=limit, show_secrets=show_secrets, model_timeout=target.model_timeout
        ),
    )
    ctx.exit(EXIT_PROBLEMS if report.model.status is not Status.OK else 0)


@cli.command("lookup")
@click.argument("model", metavar="MODEL", shell_complete=_complete_models)
@click.argument("key", metavar="KEY")
@click.option("--id", "by_id", is_flag=True, help="KEY is a primary key: look it up with by_id.")
@click.option(
    "--repeat", type=click.IntRange(min=1), default=DEFAULT_REPEAT, show_default=True,
    help="Most lookups timed of each kind (fewer when they take over half a second together).",
)
@show_secrets_option
@command_options
def lookup_command(ctx: click.Context, model, key, by_id, repeat, show_secrets, target: Target, output) -> None:
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
    report = _report(
        output,
        target,
        lambda database, _: lookup(
            database, chosen, key, by_id=by_id, repeat=repeat, show_secrets=show_secrets,
            model_timeout=target.model_timeout,
        ),
    )
    ctx.exit(0 if report.found else EXIT_PROBLEMS)


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
    from .cli_verify import COMMANDS as VERIFY

    for command in COHERENCE + VERIFY:
        cli.add_command(command)


_add_commands()
