"""Baselines: the problems a team knows of and accepts for now, so that
``check`` fails only on new ones.

A baseline is a previous ``check --json`` report, or the smaller document
``check --write-baseline FILE`` writes (every finding, and each model's warm
time and memory). Findings are matched by model, kind, and the key of a
collision or the ids of a row's problem (:func:`reports.finding_identity`).
With ``max_growth``, a model whose warm time or memory grew past that ratio
of the baseline's is a ``growth`` finding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from . import __version__
from .errors import ConfigError
from .reports import BaselineUse, Collision, ModelReport, Problem, RowError, Status, WarmReport, finding_identity

BASELINE_SCHEMA = "fullcache.baseline/1"

# Below these, a ratio measures noise: a 2 ms warm that takes 5 ms has not grown.
MIN_GROWTH_SECONDS = 0.05
MIN_GROWTH_BYTES = 64 * 1024


@dataclass
class Baseline:
    """The findings a baseline accepts, and each model's measurements then."""

    path: str
    findings: List[dict] = field(default_factory=list)
    measured: Dict[str, dict] = field(default_factory=dict)  # model -> {warm_seconds, memory_bytes}


def baseline_document(report: WarmReport) -> dict:
    """What ``--write-baseline`` writes: every finding (accepted or not) and
    each model's warm time and memory."""
    return {
        "schema": BASELINE_SCHEMA,
        "version": __version__,
        "findings": [
            {key: value for key, value in p.to_json().items() if key not in ("allowed", "known")}
            for p in report.findings()
            if p.kind != "growth"
        ],
        "models": [
            {"model": m.model, "rows": m.rows, "warm_seconds": m.warm_seconds, "memory_bytes": m.memory_bytes}
            for m in report.models
        ],
    }


def write_baseline(report: WarmReport, path: Union[str, Path]) -> None:
    """Write ``report``'s findings to ``path`` as a baseline."""
    try:
        with open(path, "w", encoding="utf-8") as stream:
            json.dump(baseline_document(report), stream, indent=2, ensure_ascii=False, default=repr)
            stream.write("\n")
    except OSError as error:
        raise ConfigError(f"baseline {str(path)!r} cannot be written: {error.strerror or error}; choose a writable path") from None


def load_baseline(path: Union[str, Path]) -> Baseline:
    """Read a baseline: a document of ``--write-baseline``, or a previous
    ``check --json`` report."""
    name = str(path)
    how = f"write one with 'fullcache check --write-baseline {name}', or pass a previous 'check --json' report"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"baseline {name!r} does not exist: {how}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"baseline {name!r} cannot be read: {getattr(error, 'strerror', None) or error}") from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"baseline {name!r} is not JSON ({error}): {how}") from None
    if not isinstance(document, dict) or not isinstance(document.get("models", []), list):
        raise ConfigError(f"baseline {name!r} is not a fullcache report or baseline: {how}")
    models = [m for m in document.get("models", []) if isinstance(m, dict) and isinstance(m.get("model"), str)]
    findings = document.get("findings")
    if findings is None:
        # A report of a version that listed no findings: found again from its models.
        findings = [p.to_json() for m in models for p in _model_report(m).problems()]
    elif not isinstance(findings, list) or not all(isinstance(f, dict) and "model" in f and "kind" in f for f in findings):
        raise ConfigError(f"baseline {name!r} has findings of an unknown shape: {how}")
    measured = {m["model"]: {"warm_seconds": m.get("warm_seconds"), "memory_bytes": m.get("memory_bytes")} for m in models}
    return Baseline(name, [f for f in findings if f.get("kind") != "growth"], measured)


def _model_report(document: dict) -> ModelReport:
    """A model's report rebuilt from its JSON, as far as its findings go."""
    try:
        status = Status(document.get("status", "ok"))
    except ValueError:
        status = Status.ERROR

    def rows(name: str) -> List[RowError]:
        return [RowError(e.get("id"), e.get("error") or "") for e in document.get(name) or [] if isinstance(e, dict)]

    return ModelReport(
        document["model"], document.get("table", ""), document.get("mixin", ""), document.get("mixin_class", ""),
        status=status,
        error=document.get("error"),
        collisions=[
            Collision(_as_key(c.get("key")), list(c.get("ids") or []), c.get("kept_id"))
            for c in document.get("collisions") or [] if isinstance(c, dict)
        ],
        none_keys=list(document.get("none_keys") or []),
        key_errors=rows("key_errors"),
        populate_error=document.get("populate_error"),
        merge_failures=rows("merge_failures"),
        lookup_error=document.get("lookup_error"),
    )


def _as_key(value: Any) -> Any:
    """A key read from JSON, as the cache held it (arrays were tuples)."""
    return tuple(_as_key(v) for v in value) if isinstance(value, list) else value


def apply_baseline(report: WarmReport, baseline: Baseline, max_growth: Optional[float] = None) -> WarmReport:
    """Judge ``report`` against ``baseline``: its findings become known, those
    it no longer has are listed as fixed, and with ``max_growth`` a model
    that grew past that ratio is a ``growth`` finding."""
    report.max_growth = max_growth
    use = BaselineUse(baseline.path, frozenset(finding_identity(f) for f in baseline.findings))
    report.baseline = use
    if max_growth is not None:
        use.growth = [p for m in report.models for p in _growth(m, baseline.measured.get(m.model), max_growth)]
    current = {finding_identity(p.to_json()) for p in report.findings()}
    use.fixed = [f for f in baseline.findings if finding_identity(f) not in current]
    return report


def _growth(model: ModelReport, then: Optional[dict], ratio: float) -> List[Problem]:
    if then is None or model.status is not Status.OK:
        return []
    found = []
    for what, now, before, floor, show in (
        ("warm time", model.warm_seconds, then.get("warm_seconds"), MIN_GROWTH_SECONDS, lambda v: f"{v:.3f} s"),
        ("memory", model.memory_bytes, then.get("memory_bytes"), MIN_GROWTH_BYTES, lambda v: f"{v:,.0f} B"),
    ):
        if not isinstance(now, (int, float)) or not isinstance(before, (int, float)) or before < 0:
            continue
        grown = max(now, floor) / max(before, floor)
        if grown > ratio:
            found.append(
                Problem(
                    model.model,
                    "growth",
                    error=f"{what} grew {grown:.1f}x: {show(now)}, baseline {show(before)} (over --max-growth {ratio:g})",
                )
            )
    return found
