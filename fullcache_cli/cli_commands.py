"""The ``models``, ``warm``, ``check``, ``inspect`` and ``lookup`` commands,
registered by ``cli.py`` (which owns the group, the error boundary and the
shared options).
"""

from __future__ import annotations

import os
from contextlib import redirect_stdout
from typing import Any, Callable, Optional

import click

from .cli import (
    EXIT_PROBLEMS,
    JUNIT,
    Target,
    _redactor,
    _report,
    _settings,
    _write_junit,
    command_options,
    seconds_option,
)
from .defaults import DEFAULT_LIMIT, DEFAULT_MERGE_CHECK_SECONDS, DEFAULT_REPEAT
from .kinds import KINDS


@click.command("models")
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


def path_option(flag: str, metavar: str, help: str, writable: bool = False, **extra: Any) -> Callable:
    """An option naming a file (not a folder)."""
    return click.option(flag, type=click.Path(dir_okay=False, writable=writable), metavar=metavar, help=help, **extra)


def show_secrets_option(f: Callable) -> Callable:
    return click.option(
        "--show-secrets",
        is_flag=True,
        help="Show values that are secrets (columns named like one, settings whose key names one) unmasked.",
    )(f)


merge_check_option = seconds_option(
    "--merge-check-seconds", 0, "Stop each model's merge check after this long; the report says how far it got.",
    DEFAULT_MERGE_CHECK_SECONDS,
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


@click.command()
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


@click.command()
@click.argument("names", nargs=-1, metavar="[MODEL]...", shell_complete=_complete_models)
@click.option(
    "--allow",
    "allowed",
    multiple=True,
    type=AllowRule(),
    help=f"Accept problems of this KIND, or a model's (MODEL:KIND); repeatable. Kinds: {', '.join(KINDS)}.",
)
@seconds_option("--max-warm-seconds", 0, "A model that takes longer to warm is a problem.")
@path_option(
    "--baseline", "FILE",
    "Known problems (a --write-baseline file or a previous --json report): they do not fail, new ones do.",
)
@path_option(
    "--write-baseline", "FILE",
    "Write every problem found to FILE as a baseline (and accept them this run, unless --baseline is given).",
    writable=True,
)
@click.option(
    "--max-growth",
    type=click.FloatRange(min=1, min_open=True),
    metavar="RATIO",
    help="With --baseline: a model whose warm time or memory grew past RATIO times the baseline's is a problem.",
)
@path_option(
    "--junit-xml", "PATH",
    "Also write one JUnit test case per model here (an error case for a model not read).",
    writable=True,
    callback=_remember_junit,
    is_eager=True,  # known before any other option can fail
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

    warning = capture_warning(target.url)
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


@click.command("inspect")
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
    from .reports import Status

    (chosen,) = target.select([model])
    report = _report(
        output,
        target,
        lambda database, _: inspect_model(
            database, chosen, limit=limit, show_secrets=show_secrets, model_timeout=target.model_timeout
        ),
    )
    ctx.exit(EXIT_PROBLEMS if report.model.status is not Status.OK else 0)


@click.command("lookup")
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


COMMANDS = (models_command, warm, check, inspect_command, lookup_command)
