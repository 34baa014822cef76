"""warm's and check's report for CI: JUnit XML, GitHub workflow commands,
Markdown; control characters spelled out, passwords masked.
"""

from __future__ import annotations

import re
from typing import Dict

from ..defaults import DEFAULT_LIMIT
from ..reports import UNREADABLE_KINDS, Status, WarmReport, plural
from .output import github, markdown
from .text import Redact, _no_redaction, _visible, count, human_bytes, human_seconds, spelled_out


def junit_xml(report: WarmReport, redact: Redact = _no_redaction) -> str:
    """One test case per model for CI systems: a failure listing its
    problems, or an error when the model could not be read."""
    from xml.etree import ElementTree as ET

    problems = report.problems()
    unreadable = {p.model for p in problems if p.kind in UNREADABLE_KINDS}
    suite = ET.Element(
        "testsuite",
        name="fullcache check",
        tests=str(len(report.models)),
        failures=str(len({p.model for p in problems} - unreadable)),
        errors=str(len(unreadable)),
        time=f"{report.seconds:.3f}",
    )
    for model in report.models:
        case = ET.SubElement(
            suite, "testcase", classname=_xml_text(f"fullcache.{model.table}", redact),
            name=_xml_text(model.model, redact), time=f"{model.warm_seconds or 0:.3f}",
        )
        mine = [p for p in problems if p.model == model.model]
        if model.model in unreadable:
            message = _xml_text(model.error or model.status.value, redact)
            error = ET.SubElement(case, "error", message=message, type=mine[0].kind)
            error.text = _xml_text("\n".join(p.text(50) for p in mine), redact)
        elif mine:
            failure = ET.SubElement(case, "failure", message=plural(len(mine), "problem"), type="fullcache")
            failure.text = _xml_text("\n".join(p.text(50) for p in mine), redact)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def junit_error_xml(message: str, redact: Redact = _no_redaction) -> str:
    """A suite of one errored case, for a check that could not run at all
    (exit 2): CI shows why instead of a missing report."""
    from xml.etree import ElementTree as ET

    suite = ET.Element("testsuite", name="fullcache check", tests="1", failures="0", errors="1", time="0.000")
    case = ET.SubElement(suite, "testcase", classname="fullcache", name="fullcache check")
    error = ET.SubElement(case, "error", message=_xml_text(message, redact), type="configuration")
    error.text = _xml_text(message, redact)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


# Characters XML 1.0 cannot hold at all, not even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str, redact: Redact = _no_redaction) -> str:
    """Text for the JUnit file: passwords masked first (ElementTree escapes
    what it writes), then the characters XML cannot carry spelled out."""
    return _NOT_XML.sub(lambda m: _visible(m.group()), redact(text))


def _control_free(text: str) -> str:
    """Text from the database or the models' code, its control characters
    (escape sequences, say) spelled out rather than obeyed; line ends and
    tabs are left to the format's own escaping."""
    return spelled_out(text, keep="\n\r\t")


def github_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's toolkit does."""
    return _control_free(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """A workflow command's property (title=...), escaped as GitHub's toolkit
    does: its data escapes, and ':' and ','."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


@github.register
def github_warm(report: WarmReport) -> str:
    """One ``::error`` per failing problem, a ``::warning`` per known one,
    then the totals as a plain line."""
    lines = []
    for problem in report.findings():
        if problem.allowed:
            continue
        level = "error" if problem.fails else "warning"
        title = f"fullcache {problem.kind}: {problem.model}" + ("" if problem.fails else " (known)")
        lines.append(f"::{level} title={github_property(title)}::{github_data(problem.model + ' ' + problem.text(50))}")
    lines.append(_control_free(report.summary()).replace("\n", " "))
    return "\n".join(lines) + "\n"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-!|~])")


def markdown_text(text: str) -> str:
    """Text for a Markdown table cell or line: special characters escaped,
    on one line."""
    one_line = " ".join(_control_free(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line)


@markdown.register
def markdown_warm(report: WarmReport, limit: int = DEFAULT_LIMIT) -> str:
    """The verdict, a table of the models, and the problems (at most
    ``limit`` per model)."""
    findings = report.findings()
    problems = [p for p in findings if p.fails]
    verdict = "passed" if not problems else f"failed: {plural(len(problems), 'problem')}"
    lines = [
        f"## fullcache check {verdict}",
        "",
        markdown_text(f"{plural(len(report.models), 'model')} in {report.database}, {human_seconds(report.seconds)}."),
        "",
        "| Model | Rows | Keys | Collisions | Key errors | Merge fails | Warm | Memory | Status |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for model in report.models:
        mine = [p for p in findings if p.model == model.model]
        failing = sum(1 for p in mine if p.fails)
        known = sum(1 for p in mine if p.known and not p.allowed)
        if model.status is not Status.OK:
            status = f"❌ {model.status.value}"
        elif failing:
            status = f"❌ {plural(failing, 'problem')}"
        elif known:
            status = f"⚠️ {known:,} known"
        else:
            status = "✅ ok"
        cells = [
            markdown_text(model.model), count(model.rows), count(model.cached_keys),
            f"{len(model.collisions):,}", f"{len(model.key_errors):,}", f"{len(model.merge_failures):,}",
            human_seconds(model.warm_seconds), human_bytes(model.memory_bytes), status,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    sections = (
        ("Problems", problems),
        ("Known from the baseline", [p for p in findings if p.known and not p.allowed]),
        ("Allowed", [p for p in findings if p.allowed]),
    )
    for title, items in sections:
        if not items:
            continue
        lines += ["", f"### {title} ({len(items):,})", ""]
        shown: Dict[str, int] = {}
        for problem in items:
            shown[problem.model] = shown.get(problem.model, 0) + 1
            if shown[problem.model] <= limit:
                lines.append(f"- **{markdown_text(problem.model)}** {markdown_text(problem.text(50))}")
        for model, total in shown.items():
            if total > limit:
                lines.append(f"- … and {total - limit:,} more of {markdown_text(model)}")
    if report.baseline is not None and report.baseline.fixed:
        lines += ["", markdown_text(f"{plural(len(report.baseline.fixed), 'problem')} of the baseline fixed.")]
    return "\n".join(lines) + "\n"
