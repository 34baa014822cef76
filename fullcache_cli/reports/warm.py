"""warm's and check's report: each model's figures and problems, and the
run's verdict (``fullcache.report/1``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Optional

from ..timing import human_us, ratio
from .common import KINDS, ROW_KINDS, PerModel, Status, differs_text, format_key, ids_text, json_key, plural


if TYPE_CHECKING:
    from .verify import VerifyReport


SCHEMA = "fullcache.report/1"


@dataclass
class Collision:
    key: Any
    ids: List[Any]
    kept_id: Any
    differs: Dict[str, List[Any]] = field(default_factory=dict)  # column: [kept row's value, others' by ids]

    def to_json(self) -> dict:
        differs = {column: [json_key(v) for v in values] for column, values in self.differs.items()}
        return {"key": json_key(self.key), "ids": self.ids, "kept_id": self.kept_id, "differs": differs}


@dataclass
class RowError:
    """A row and what went wrong with it (a key error or a merge failure)."""

    id: Any
    error: str

    def to_json(self) -> dict:
        return {"id": self.id, "error": self.error}


@dataclass
class UnreachableKey:
    """A cached key no lookup can find: not equal to itself (NaN), or its
    hash is not the one it was cached under."""

    key: Any
    id: Any
    error: str

    def to_json(self) -> dict:
        return {"key": json_key(self.key), "id": self.id, "error": self.error}


@dataclass
class Lookups:
    """Hit timings through the model's own ``by_id``, against a primary-key
    query: repeated hits from one session (``cache_*``), and the first
    lookup of a row in a new session (``first_hit_*``: what every web
    request pays, a merge for most mixins). Each series is cut short by a
    time budget, so the sample counts may differ."""

    samples: int
    cache_p50_us: float
    cache_p99_us: float
    db_p50_us: Optional[float]
    db_p99_us: Optional[float]
    first_hit_samples: int = 0
    first_hit_p50_us: Optional[float] = None
    first_hit_p99_us: Optional[float] = None
    db_samples: int = 0

    @property
    def slow_hit(self) -> Optional[str]:
        """Why the cache is slower than the database, or None: its repeated
        hits, or its first hits in a new session, take longer (p50) than a
        primary-key query (p50)."""
        if self.db_p50_us is None:
            return None
        slower = [
            f"{what} take {human_us(us)} (p50 of {samples}, {ratio(us, self.db_p50_us):g}x slower)"
            for what, us, samples in (
                ("hits", self.cache_p50_us, self.samples),
                ("first hits in a new session", self.first_hit_p50_us, self.first_hit_samples),
            )
            if us is not None and us > self.db_p50_us
        ]
        if not slower:
            return None
        return f"{' and '.join(slower)} than a primary-key query: {human_us(self.db_p50_us)} (p50 of {self.db_samples})"

    def to_json(self) -> dict:
        return {
            "samples": self.samples,
            "cache_p50_us": self.cache_p50_us,
            "cache_p99_us": self.cache_p99_us,
            "first_hit_samples": self.first_hit_samples,
            "first_hit_p50_us": self.first_hit_p50_us,
            "first_hit_p99_us": self.first_hit_p99_us,
            "db_samples": self.db_samples,
            "db_p50_us": self.db_p50_us,
            "db_p99_us": self.db_p99_us,
        }


@dataclass
class MergeCheck:
    """How far the merge check got: every cached row decided unless it was
    cut short by its time budget."""

    rows: int = 0  # cached objects to decide
    checked: int = 0  # of those, decided
    objects: int = 0  # distinct objects visited, rows and related
    merges: int = 0  # real merges tried (objects their state did not decide)
    cut_short: bool = False

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Related:
    """Objects of another cached model that a model's caches keep reachable."""

    objects: int
    bytes: int
    copies: Optional[int] = None  # not the ones in that model's own cache; None: that cache is not warm

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Breach:
    """What a model's code did to fullcache's transaction that fullcache could
    not refuse: ``escaped_transaction`` (it ended or replaced it) or
    ``database_write`` (rows changed through fullcache's connection)."""

    kind: str
    error: str

    def to_json(self) -> dict:
        return {"kind": self.kind, "error": self.error}


@dataclass
class Problem:
    """One finding of warm or check: a kind of problem on a model, the rows
    and key it concerns, and whether ``check`` accepts it (``allowed`` by
    ``--allow``, ``known`` from the baseline)."""

    model: str
    kind: str
    ids: List[Any] = field(default_factory=list)
    key: Any = None
    error: Optional[str] = None
    differs: Dict[str, List[Any]] = field(default_factory=dict)  # a collision's differing columns
    allowed: bool = False
    known: bool = False

    @property
    def fails(self) -> bool:
        """Whether this finding fails ``check``."""
        return not (self.allowed or self.known)

    def text(self, ids_limit: int = 8) -> str:
        """The finding in one plain line, without the model's name:
        ``collision ids 1, 3 key Fiction``."""
        parts = [self.kind]
        if self.ids:
            parts.append(f"ids {ids_text(self.ids, ids_limit)}")
        if self.key is not None:
            parts.append(f"key {format_key(self.key)}")
        if self.error:
            parts.append(self.error)
        if self.differs:
            parts.append(differs_text(self.differs))
        return " ".join(parts)

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "kind": self.kind,
            "ids": self.ids,
            "key": json_key(self.key),
            "error": self.error,
            "allowed": self.allowed,
            "known": self.known,
        }


def finding_identity(finding: dict) -> str:
    """What matches a finding (as JSON) with a baseline's: its model and kind,
    and the key of a collision or the ids of a row's problem. Messages,
    timings and the ids sharing a key may change without the finding being
    new."""
    kind = finding.get("kind")
    if kind == "collision" and finding.get("key") is not None:
        detail: Any = finding.get("key")
    elif kind in ROW_KINDS or kind == "collision":
        detail = sorted(json.dumps(i, sort_keys=True) for i in finding.get("ids") or [])
    else:
        detail = None
    return json.dumps([finding.get("model"), kind, detail], sort_keys=True, ensure_ascii=False)


def allows(rules: FrozenSet[str], problem: Problem) -> bool:
    """Whether an allow rule (``KIND`` or ``MODEL:KIND``) accepts the problem."""
    return problem.kind in rules or f"{problem.model}:{problem.kind}" in rules


@dataclass
class ModelReport(PerModel):
    """What warming one model observed."""

    rows: Optional[int] = None
    cached_ids: Optional[int] = None
    cached_keys: Optional[int] = None
    collisions: List[Collision] = field(default_factory=list)
    none_keys: List[Any] = field(default_factory=list)
    key_errors: List[RowError] = field(default_factory=list)
    unreachable_keys: List[UnreachableKey] = field(default_factory=list)
    populate_error: Optional[str] = None
    merge_failures: List[RowError] = field(default_factory=list)
    warm_seconds: Optional[float] = None  # the model's populate_cache
    total_seconds: Optional[float] = None  # every phase: what the model cost fullcache
    phases: Dict[str, float] = field(default_factory=dict)  # seconds, in the order they ran
    statements: Dict[str, int] = field(default_factory=dict)  # SQL statements issued, per phase
    merge_check: Optional[MergeCheck] = None
    memory_bytes: Optional[int] = None  # this model's objects and whatever else they keep reachable
    related: Dict[str, Related] = field(default_factory=dict)  # other cached models' objects, by model
    lookups: Optional[Lookups] = None
    lookup_error: Optional[str] = None
    cut_short: List[str] = field(default_factory=list)  # checks stopped by their time budget
    breaches: List[Breach] = field(default_factory=list)
    timed_out: Optional[float] = None  # the model time limit (seconds) that stopped it

    @property
    def shared_bytes(self) -> Optional[int]:
        """Bytes of other cached models' objects this model's caches keep
        reachable (None when memory was not measured)."""
        if self.memory_bytes is None:
            return None
        return sum(r.bytes for r in self.related.values())
    # Why the model cannot cache correctly: it has no caches of its own (see
    # loading.shared_cache); such a model is counted, never populated.
    shared_cache: Optional[str] = None

    def problems(self, max_warm_seconds: Optional[float] = None) -> List[Problem]:
        found: List[Problem] = []
        if self.status is Status.NOT_RUN:
            found.append(Problem(self.model, "not_run", error=self.error))
            return found
        if self.status is Status.ERROR:
            found.append(Problem(self.model, "unreadable", error=self.error))
            return found
        if self.shared_cache:
            found.append(Problem(self.model, "shared_cache", error=self.shared_cache))
        if self.populate_error:
            found.append(Problem(self.model, "populate_error", error=self.populate_error))
        found += [Problem(self.model, "key_error", [e.id], error=e.error) for e in self.key_errors]
        found += [Problem(self.model, "collision", list(c.ids), key=c.key, differs=c.differs) for c in self.collisions]
        if len(self.none_keys) > 1:
            found.append(Problem(self.model, "none_key", list(self.none_keys), error="rows share the key None"))
        found += [Problem(self.model, "unreachable_key", [u.id], key=u.key, error=u.error) for u in self.unreachable_keys]
        found += [Problem(self.model, "merge_failure", [m.id], error=m.error) for m in self.merge_failures]
        if self.lookup_error:
            found.append(Problem(self.model, "lookup_error", error=self.lookup_error))
        slow_hit = self.lookups.slow_hit if self.lookups else None
        if slow_hit:
            found.append(Problem(self.model, "slow_hit", error=slow_hit))
        found += [Problem(self.model, b.kind, error=b.error) for b in self.breaches]
        if self.timed_out is not None:
            found.append(
                Problem(
                    self.model,
                    "timed_out",
                    error=f"stopped by the model time limit of {self.timed_out:g} s (the caches hold what was "
                    "loaded by then)",
                )
            )
        if (
            max_warm_seconds is not None
            and self.total_seconds is not None
            and self.total_seconds > max_warm_seconds
        ):
            found.append(
                Problem(
                    self.model,
                    "slow",
                    error=f"warmed in {self.total_seconds:.3f} s, over the limit of {max_warm_seconds:g} s",
                )
            )
        return found

    def to_json(self) -> dict:
        return {
            **self.head_json(),
            "rows": self.rows,
            "cached_ids": self.cached_ids,
            "cached_keys": self.cached_keys,
            "collisions": [c.to_json() for c in self.collisions],
            "none_keys": list(self.none_keys),
            "key_errors": [e.to_json() for e in self.key_errors],
            "unreachable_keys": [u.to_json() for u in self.unreachable_keys],
            "populate_error": self.populate_error,
            "merge_failures": [m.to_json() for m in self.merge_failures],
            "warm_seconds": self.warm_seconds,
            "total_seconds": self.total_seconds,
            "phases": dict(self.phases),
            "statements": dict(self.statements),
            "merge_check": self.merge_check.to_json() if self.merge_check else None,
            "memory_bytes": self.memory_bytes,
            "shared_bytes": self.shared_bytes,
            "related_cached": {name: r.to_json() for name, r in self.related.items()},
            "lookups": self.lookups.to_json() if self.lookups else None,
            "lookup_error": self.lookup_error,
            "cut_short": list(self.cut_short),
            "shared_cache": self.shared_cache,
            "breaches": [b.to_json() for b in self.breaches],
            "timed_out": self.timed_out,
        }


@dataclass
class BaselineUse:
    """How a baseline was applied: where it came from, the findings it knew,
    and those of its findings that are gone (fixed since)."""

    path: str
    identities: FrozenSet[str] = frozenset()  # of the baseline's findings (baseline.identity)
    fixed: List[dict] = field(default_factory=list)  # its findings no longer found, as JSON
    growth: List[Problem] = field(default_factory=list)  # kind "growth", past --max-growth

    def to_json(self, known: int = 0) -> dict:
        return {"path": self.path, "known": known, "fixed": list(self.fixed)}


@dataclass
class WarmReport:
    """Every model's observations, and the verdict of ``check``.

    ``str(report)`` (or :meth:`summary`) is a paragraph naming every finding
    that fails, so that ``assert report.ok, report.summary()`` in an
    application's own tests explains itself.
    """

    database: str
    models: List[ModelReport]
    seconds: float = 0.0
    allowed: FrozenSet[str] = frozenset()  # KIND or MODEL:KIND
    max_warm_seconds: Optional[float] = None
    max_growth: Optional[float] = None
    baseline: Optional[BaselineUse] = None
    verified: Optional["VerifyReport"] = None  # check --verify
    # PostgreSQL: the role fullcache ran as, and the cached tables it may
    # write to (information: a read-only role has the database refuse writes
    # too). None elsewhere.
    role: Optional[str] = None
    role_can_write: Optional[List[str]] = None

    def findings(self) -> List[Problem]:
        """Every problem found, those accepted included (``allowed``,
        ``known``), in the order of KINDS."""
        found = [p for m in self.models for p in m.problems(self.max_warm_seconds)]
        if self.verified is not None:
            found += [m.drift_problem() for m in self.verified.drifted]
        if self.baseline is not None:
            found += [Problem(p.model, p.kind, list(p.ids), p.key, p.error) for p in self.baseline.growth]
        for problem in found:
            problem.allowed = allows(self.allowed, problem)
            problem.known = (
                self.baseline is not None
                and problem.kind != "growth"
                and finding_identity(problem.to_json()) in self.baseline.identities
            )
        order = {kind: n for n, kind in enumerate(KINDS)}
        return sorted(found, key=lambda p: order.get(p.kind, len(order)))

    def problems(self) -> List[Problem]:
        """The findings that fail ``check``: neither allowed nor known."""
        return [p for p in self.findings() if p.fails]

    @property
    def ok(self) -> bool:
        return not self.problems()

    @property
    def unreadable(self) -> bool:
        """Some model could not be read at all (warm exits 1)."""
        return any(m.status is not Status.OK for m in self.models)

    def summary(self) -> str:
        """A readable paragraph: the models, then every failing finding, then
        how many were accepted."""
        findings = self.findings()
        failing = [p for p in findings if p.fails]
        readable = [m for m in self.models if m.status is Status.OK]
        rows = sum(m.rows or 0 for m in readable)
        head = f"fullcache: {plural(len(self.models), 'model')}, {plural(rows, 'row')} ({self.database})"
        if failing:
            head += f": {plural(len(failing), 'problem')}: " + "; ".join(
                f"{p.model} {p.text()}" for p in failing
            )
        else:
            head += ": no problems"
        accepted = []
        allowed = sum(1 for p in findings if p.allowed)
        known = sum(1 for p in findings if p.known and not p.allowed)
        if allowed:
            accepted.append(f"{allowed:,} allowed")
        if known:
            accepted.append(f"{known:,} known from the baseline")
        return head + (f" ({', '.join(accepted)})" if accepted else "") + "."

    def __str__(self) -> str:
        return self.summary()

    def to_json(self) -> dict:
        from .. import __version__

        findings = self.findings()
        problems = [p for p in findings if p.fails]
        return {
            "schema": SCHEMA,
            "version": __version__,
            "database": self.database,
            "models": [m.to_json() for m in self.models],
            "seconds": self.seconds,
            "allowed": sorted(self.allowed),
            "thresholds": {"max_warm_seconds": self.max_warm_seconds, "max_growth": self.max_growth},
            "baseline": (
                self.baseline.to_json(sum(1 for p in findings if p.known)) if self.baseline is not None else None
            ),
            "findings": [p.to_json() for p in findings],
            "role": self.role,
            "role_can_write": self.role_can_write,
            "problems": len(problems),
            "ok": not problems,
            **({"verify": self.verified.to_json()} if self.verified is not None else {}),
        }
