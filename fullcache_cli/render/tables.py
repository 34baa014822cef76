"""Tables for people: the models listing, warm's and check's report, an
inspected cache, a lookup.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List
from rich.markup import escape
from rich.table import Table

from ..notes import model_notes
from ..reports import (
    UNREADABLE_KINDS,
    InspectReport,
    LookupReport,
    ModelReport,
    ModelsReport,
    Problem,
    Status,
    WarmReport,
    differs_text,
    format_key,
    ids_text,
    plural,
    safe_repr,
)
from ..timing import human_us
from .output import Output, mixin_label, render
from .text import count, human_bytes, human_seconds, terminal_text, times


@render.register
def render_models(report: ModelsReport, output: Output) -> None:
    """models for people: one row per model."""
    table = Table(title=f"Cached models ({output.safe(report.database)})", title_justify="left")
    for name, justify in (("Model", "left"), ("Table", "left"), ("Mixin", "left"), ("Rows", "right")):
        table.add_column(name, justify=justify)
    for row in report.models:
        mixin = mixin_label(row.model.mixin, row.model.mixin_class)
        rows = count(row.rows) if row.error is None else f"[red]{output.safe(row.error)}[/]"
        table.add_row(output.safe(row.model.name), output.safe(row.model.table), output.safe(mixin), rows)
    output.out.print(table)
    shared = [row.model for row in report.models if row.model.shared_cache]
    if shared:
        output.out.print("\n[bold]Notes[/]")
        for model in shared:
            output.out.print(f"  {escape(model.name)}: {escape(model.shared_cache)}", soft_wrap=True)


# Left out first, in this order, when the table is wider than the screen;
# Model and Status always stay, and no number is ever cut.
WARM_DROPPABLE = (
    "Ids", "First hit", "DB p50", "Hit p50", "None keys", "Merge fails", "Memory", "Keys",
    "Key errors", "Collisions", "Warm", "Rows",
)


WARM_COLUMNS = (
    "Model", "Rows", "Ids", "Keys", "Collisions", "Key errors", "None keys",
    "Merge fails", "Warm", "Memory", "Hit p50", "First hit", "DB p50", "Status",
)


# A model's name folds onto more lines rather than push numbers out.
FOLDING = ("Model",)


MODEL_MIN_WIDTH = 8


@render.register
def render_warm(report: WarmReport, output: Output) -> None:
    """warm and check for people: the table, the problems, the totals."""
    out = output.out
    title = f"Warmed {plural(len(report.models), 'model')} ({output.safe(report.database)})"
    table = Table(title=title, title_justify="left")
    findings = report.findings()
    problems = [p for p in findings if p.fails]
    rows = [_warm_row(model, [p for p in findings if p.model == model.model], output.safe) for model in report.models]
    widths = _fitting(WARM_COLUMNS, rows, out.width, WARM_DROPPABLE)
    for name, width in widths.items():
        table.add_column(
            name,
            justify="left" if name in ("Model", "Status") else "right",
            width=width,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(cell for name, cell in zip(WARM_COLUMNS, row) if name in widths))
    left_out = [name for name in WARM_COLUMNS if name not in widths]
    if left_out:
        table.caption = f"Too narrow for {', '.join(left_out)}: see --json or a wider terminal."
        table.caption_justify = "left"
    out.print(table)
    if problems:
        out.print(f"\n[bold]Problems[/] ({len(problems):,})")
        _problem_lines(problems, output)
    accepted = _accepted(report, findings)
    if accepted:
        out.print()
        for line in accepted:
            out.print(line, soft_wrap=True)
    notes = [(model.model, note) for model in report.models for note in model_notes(model)]
    if notes:
        out.print(f"\n[bold]Notes[/] ({len(notes):,})")
        for name, note in notes:
            out.print(f"  [bold]{output.safe(name)}[/]  {output.safe(note)}", soft_wrap=True)
    out.print()
    out.print(totals(report, problems), soft_wrap=True)
    if report.role_can_write:
        out.print(role_note(report.role or "", report.role_can_write))


def role_note(role: str, tables: list) -> str:
    """Information, not a problem: the role may write where fullcache reads."""
    named = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    return (
        f"Note: role {escape(role)} may write to {len(tables)} cached table{'s' * (len(tables) != 1)} "
        f"({escape(named)}). fullcache refuses writes on its own connections; a read-only role has the "
        "database refuse them as well."
    )


def _problem_lines(problems: list, output: Output) -> None:
    """Each problem on a line, at most ``output.limit`` per model, then a
    count of the rest."""
    shown: dict = {}
    for problem in problems:
        seen = shown.get(problem.model, 0)
        shown[problem.model] = seen + 1
        if seen < output.limit:
            output.out.print(problem_line(problem, output.safe), soft_wrap=True)
    for model, total in shown.items():
        if total > output.limit:
            more = total - output.limit
            output.out.print(
                f"  [dim]… and {more:,} more {'problem' if more == 1 else 'problems'} of {output.safe(model)} "
                "(raise --limit, or --json for all)[/]",
                soft_wrap=True,
            )


def _accepted(report: WarmReport, findings: list) -> List[str]:
    """Lines on what check accepts: allowed kinds, the baseline's known
    problems, and those of its problems that are gone."""
    lines = []
    allowed = sum(1 for p in findings if p.allowed)
    known = sum(1 for p in findings if p.known and not p.allowed)
    if allowed:
        lines.append(f"[dim]{plural(allowed, 'problem')} allowed ({escape(', '.join(sorted(report.allowed)))})[/]")
    if report.baseline is not None:
        where = escape(report.baseline.path)
        if known:
            lines.append(f"[yellow]{plural(known, 'known problem')}[/] from the baseline {where}: not failing")
        fixed = len(report.baseline.fixed)
        if fixed:
            lines.append(
                f"[green]{plural(fixed, 'problem')} of the baseline fixed[/]: "
                f"update it with --write-baseline {where}"
            )
    return lines


def _warm_row(model: ModelReport, findings: list, safe: Callable[[Any], str] = terminal_text) -> list:
    def many(items: list) -> str:
        return f"[red]{len(items):,}[/]" if items else "0"

    if model.status is not Status.OK:
        status = f"[red]{escape(model.status.value)}[/]"
        return [safe(model.model)] + ["-"] * (len(WARM_COLUMNS) - 2) + [status]
    lookups = model.lookups
    failing = sum(1 for p in findings if p.fails)
    known = sum(1 for p in findings if p.known and not p.allowed)
    if failing:
        status = f"[red]{plural(failing, 'problem')}[/]"
    elif known:
        status = f"[yellow]{known:,} known[/]"
    else:
        status = "[green]ok[/]"
    return [
        safe(model.model),
        count(model.rows),
        count(model.cached_ids),
        count(model.cached_keys),
        many(model.collisions),
        many(model.key_errors),
        (f"[red]{len(model.none_keys):,}[/]" if len(model.none_keys) > 1 else str(len(model.none_keys))),
        many(model.merge_failures),
        human_seconds(model.total_seconds),
        human_bytes(model.memory_bytes),
        human_us(lookups.cache_p50_us) if lookups else "-",
        human_us(lookups.first_hit_p50_us) if lookups else "-",
        human_us(lookups.db_p50_us) if lookups else "-",
        status,
    ]


def problem_line(problem: Problem, safe: Callable[[Any], str] = terminal_text) -> str:
    """One problem on one line, whatever its ids, key and error hold."""
    parts = [f"[bold]{safe(problem.model)}[/]", f"[red]{problem.kind}[/]"]
    if problem.ids:
        parts.append(f"ids {safe(ids_text(problem.ids))}")
    if problem.key is not None:
        parts.append(f"key {safe(format_key(problem.key))}")
    if problem.error:
        parts.append(safe(problem.error))
    if problem.differs:
        parts.append(safe(differs_text(problem.differs)))
    return "  " + "  ".join(parts)


def totals(report: WarmReport, problems: list) -> str:
    readable = [m for m in report.models if m.status is Status.OK]
    rows = sum(m.rows or 0 for m in readable)
    memory = sum((m.memory_bytes or 0) + (m.shared_bytes or 0) for m in readable)
    warm = sum(m.total_seconds or 0 for m in readable)
    summary = (
        f"{plural(len(report.models), 'model')}, {plural(rows, 'row')}, {human_bytes(memory)} cached, "
        f"warmed in {human_seconds(warm)}"
    )
    if not problems:
        return f"{summary}: [green]no problems[/]"
    unreadable = sum(1 for p in problems if p.kind in UNREADABLE_KINDS)
    extra = f" ({unreadable:,} not read)" if unreadable else ""
    return f"{summary}: [red]{plural(len(problems), 'problem')}[/]{extra}"


def _fitting(columns: tuple, rows: list, width: int, droppable: tuple) -> Dict[str, int]:
    """The columns to show and the width of each: all of them if the table
    fits ``width``, else without the droppable ones, in their order, until
    it does. A column is as wide as its widest value (headers fold at
    spaces), so that no number is ever cut; the model's name folds when it
    must."""
    from rich.text import Text

    def cells(i: int) -> List[int]:
        return [Text.from_markup(row[i]).cell_len for row in rows]

    full = {name: max([len(name)] + cells(i)) for i, name in enumerate(columns)}
    # Headers fold at spaces; values never do. A name folds only as a last resort.
    need = {
        name: full[name] if name in FOLDING else max([max(len(w) for w in name.split())] + cells(i))
        for i, name in enumerate(columns)
    }

    def total(keep: list, sizes: Dict[str, int]) -> int:
        return sum(sizes[c] + 3 for c in keep) + 1

    keep = list(columns)
    if total(keep, full) <= width:
        return {name: full[name] for name in keep}
    for name in droppable:
        if total(keep, need) <= width:
            break
        keep.remove(name)
    sizes = {name: need[name] for name in keep}
    spare = width - total(keep, sizes)
    if spare < 0:
        for name in FOLDING:
            if name in sizes:
                cut = min(-spare, sizes[name] - MODEL_MIN_WIDTH)
                sizes[name] -= max(cut, 0)
                spare += max(cut, 0)
    for name in keep:  # what room is left unfolds headers
        grow = min(max(spare, 0), full[name] - sizes[name])
        sizes[name] += grow
        spare -= grow
    return sizes


def _more(output: Output, shown: int, total: int) -> None:
    if total > shown:
        output.out.print(f"  [dim]… and {total - shown:,} more (raise --limit, or --json for all)[/]")


@render.register
def render_inspect(inspected: InspectReport, output: Output) -> None:
    """inspect for people: the model's figures, then each list capped."""
    model, limit, out = inspected.model, inspected.limit, output.out
    mixin = mixin_label(model.mixin, model.mixin_class)
    out.print(f"[bold]{output.safe(model.model)}[/] (table {output.safe(model.table)}, mixin {output.safe(mixin)}) in {output.safe(inspected.database)}", soft_wrap=True)
    if model.status is not Status.OK:
        out.print(f"  [red]{output.safe(model.status.value)}[/]: {output.safe(model.error or '')}", soft_wrap=True)
        return
    lookups = model.lookups
    figures = [
        f"rows {count(model.rows)}",
        f"cached ids {count(model.cached_ids)}",
        f"cached keys {count(model.cached_keys)}",
        f"warm {human_seconds(model.total_seconds)} (populate {human_seconds(model.warm_seconds)}, "
        f"SQL statements {model.statements.get('populate', 0):,})",
        f"memory {human_bytes(model.memory_bytes)}"
        + (f" + {human_bytes(model.shared_bytes)} of other cached models" if model.shared_bytes else ""),
    ]
    if lookups:
        figures += [
            f"hit p50/p99 {human_us(lookups.cache_p50_us)}/{human_us(lookups.cache_p99_us)} ({lookups.samples} samples)",
            f"first hit in a new session p50/p99 {human_us(lookups.first_hit_p50_us)}/"
            f"{human_us(lookups.first_hit_p99_us)} ({lookups.first_hit_samples} samples)",
            f"db p50/p99 {human_us(lookups.db_p50_us)}/{human_us(lookups.db_p99_us)} ({lookups.db_samples} samples)",
        ]
    out.print("  " + " · ".join(figures), soft_wrap=True)
    if model.shared_cache:
        out.print(f"  [red]shared cache[/]: {escape(model.shared_cache)}", soft_wrap=True)
    if lookups and lookups.slow_hit:
        out.print(f"  [red]slow hit[/]: {escape(lookups.slow_hit)}", soft_wrap=True)
    if model.populate_error:
        out.print(f"  [red]populate error[/]: {output.safe(model.populate_error)}", soft_wrap=True)
    if model.lookup_error:
        out.print(f"  [red]lookup error[/]: {output.safe(model.lookup_error)}", soft_wrap=True)
    if model.phases:
        out.print("  phases: " + " · ".join(f"{output.safe(n)} {human_seconds(s)}" for n, s in model.phases.items()))
    for note in model_notes(model):
        out.print(f"  note: {output.safe(note)}", soft_wrap=True)

    def section(title: str, items: list, line: Callable[[Any], str]) -> None:
        colour = "red" if items else "green"
        out.print(f"\n[bold]{title}[/] ([{colour}]{len(items):,}[/])")
        for item in items[:limit]:
            out.print("  " + line(item), soft_wrap=True)
        _more(output, min(limit, len(items)), len(items))

    section(
        "Collisions", model.collisions,
        lambda c: f"key {output.safe(format_key(c.key))}  ids {output.safe(ids_text(c.ids, 50))}  kept {output.safe(c.kept_id)}"
        + (f"  {output.safe(differs_text(c.differs))}" if c.differs else ""),
    )
    section("Key errors", model.key_errors, lambda e: f"id {output.safe(e.id)}  {output.safe(e.error)}")
    out.print(f"\n[bold]None keys[/] ({len(model.none_keys):,})")
    if model.none_keys:
        out.print("  ids " + output.safe(ids_text(model.none_keys, limit)), soft_wrap=True)
    section(
        "Unreachable keys", model.unreachable_keys,
        lambda u: f"key {output.safe(format_key(u.key))}  id {output.safe(u.id)}  {output.safe(u.error)}",
    )
    section("Merge failures", model.merge_failures, lambda e: f"id {output.safe(e.id)}  {output.safe(e.error)}")
    out.print("\n[bold]Key types[/]")
    types = list(inspected.key_types.items())
    if types:
        out.print("  " + output.safe(", ".join(f"{shape}: {n:,}" for shape, n in types[:limit])), soft_wrap=True)
    _more(output, min(limit, len(types)), len(types))
    if inspected.stats:
        out.print("\n[bold]Mixin statistics[/]")
        stats = " · ".join(f"{output.safe(name)} {output.safe(value)}" for name, value in inspected.stats.items())
        out.print("  " + stats, soft_wrap=True)
    entries = inspected.entries
    out.print(f"\n[bold]Entries[/] (first {len(entries):,} of {count(model.cached_keys)})")
    if entries:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("Key", "Id", "Object"):
            table.add_column(column)
        for entry in entries:
            table.add_row(output.safe(format_key(entry.key)), output.safe(entry.id), output.safe(entry.repr))
        out.print(table)


@render.register
def render_lookup(report: LookupReport, output: Output) -> None:
    """lookup for people: where the row came from, its values, the timings."""
    console = output.out
    what = f"{output.safe(report.model)} {'id' if report.by == 'id' else 'key'} {output.safe(format_key(report.key))}"
    if not report.found:
        console.print(f"{what}: [red]not found[/]", soft_wrap=True)
        if report.error:
            console.print(f"  error: {output.safe(report.error)}", soft_wrap=True)
        if report.suggestions:
            console.print("  closest keys: " + ", ".join(output.safe(safe_repr(s)) for s in report.suggestions), soft_wrap=True)
        return
    source = "[green]cache[/]" if report.source == "cache" else "[yellow]database[/]"
    console.print(f"{what}: found in {source}, id {output.safe(report.id)}", soft_wrap=True)
    if report.reason:
        console.print(f"  not from the cache because {output.safe(report.reason)}", soft_wrap=True)
    if report.shadows:
        console.print(f"  [red]this key shadows rows[/] {output.safe(ids_text(report.shadows, 50))}", soft_wrap=True)
    if report.merge is not None:
        merge = "[green]ok[/]" if report.merge.ok else f"[red]failed[/]: {output.safe(report.merge.error or '')}"
        console.print(f"  merge into a second session: {merge}", soft_wrap=True)
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("Column")
    table.add_column("Value")
    for name, value in (report.values or {}).items():
        table.add_row(output.safe(name), output.safe(json.dumps(value, ensure_ascii=False)))
    console.print(table)
    timing = []
    if report.cache_us is not None:
        timing.append(f"cached lookup {human_us(report.cache_us)} (median of {report.cache_samples:,})")
    if report.db_us is not None:
        timing.append(f"database by primary key {human_us(report.db_us)} (median of {report.db_samples:,})")
    if timing:
        line = " vs ".join(timing)
        speedup = report.speedup
        if speedup is not None:
            if speedup >= 1:
                line += f": {times(speedup)} faster from the cache"
            else:
                line += f": [red]{times(1 / speedup)} slower from the cache[/]"
        console.print("  " + line, soft_wrap=True)
    if report.first_hit_us is not None:
        console.print(
            f"  first lookup in a new session {human_us(report.first_hit_us)} "
            f"(median of {report.first_hit_samples:,}, each from a new session)",
            soft_wrap=True,
        )
