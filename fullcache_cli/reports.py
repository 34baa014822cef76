"""Every report fullcache's commands return, and its JSON schema: plain
data, rendered elsewhere (render.py).

``to_json()`` on each report gives the documented JSON shape; keys appear as
JSON values where they are str, int, float, bool or None, tuples as arrays,
anything else as its repr. Standard library only: the command line imports
this module before it loads SQLAlchemy.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Optional, Tuple

from .defaults import DEFAULT_LIMIT, DEFAULT_REPEAT
from .timing import human_us, ratio

if TYPE_CHECKING:
    from .loading import CachedModel

SCHEMA = "fullcache.report/1"
MODELS_SCHEMA = "fullcache.models/1"
INSPECT_SCHEMA = "fullcache.inspect/1"
LOOKUP_SCHEMA = "fullcache.lookup/1"
VERIFY_SCHEMA = "fullcache.verify/1"
VERIFY_SCOPE = "mapped column values of the cached objects; relationships are not compared"
COHERENCE_STATUS_SCHEMA = "fullcache.coherence-status/1"
COHERENCE_CHANGE_SCHEMA = "fullcache.coherence-change/1"


class Status(str, Enum):
    """Whether a model was read; the value is its JSON spelling."""

    OK = "ok"
    ERROR = "error"  # could not be read
    NOT_RUN = "not run"  # the connection was lost before its turn

# Kinds of problem, in the order the problems section lists them.
KINDS = (
    "unreadable",
    "not_run",
    "shared_cache",
    "populate_error",
    "key_error",
    "collision",
    "none_key",
    "unreachable_key",
    "merge_failure",
    "lookup_error",
    "slow_hit",
    "escaped_transaction",
    "database_write",
    "timed_out",
    "slow",
    "growth",
    "drift",  # check --verify: the caches differ from their tables
)

# Kinds that concern one row, named by its id.
ROW_KINDS = frozenset({"key_error", "merge_failure"})

# Kinds that mean a model could not be read at all: warm itself exits 1.
UNREADABLE_KINDS = frozenset({"unreadable", "not_run"})


def safe_repr(value: Any) -> str:
    """``repr(value)``, whatever its ``__repr__`` does: one that raises gives
    a description instead (a report is written whatever a key's repr does)."""
    try:
        text = repr(value)
        if isinstance(text, str):
            return text
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        return f"<{type(value).__name__}: repr failed: {type(error).__name__}>"
    return f"<{type(value).__name__}: repr is not text>"


def json_key(key: Any) -> Any:
    """A cache key as a JSON value: scalars as themselves, tuples as arrays,
    anything else as its repr."""
    if key is None or isinstance(key, (str, bool, int)):
        return key
    if isinstance(key, float):
        return key if math.isfinite(key) else repr(key)
    if isinstance(key, tuple):
        return [json_key(part) for part in key]
    return safe_repr(key)


def json_value(value: Any) -> Any:
    """A column value as JSON: scalars as themselves, anything else as text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


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


def plural(count: int, noun: str, nouns: Optional[str] = None) -> str:
    """``1 model``, ``2 models``, ``100,000 problems``."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def _id_text(value: Any) -> str:
    """An id as text, whatever its ``__str__`` does."""
    try:
        return value if isinstance(value, str) else str(value)
    except KeyboardInterrupt:
        raise
    except BaseException:
        return safe_repr(value)


def ids_text(ids: list, limit: int = 8) -> str:
    """Ids as people read them: the first ``limit`` and a count of the rest."""
    shown = ", ".join(_id_text(i) for i in ids[:limit])
    return shown + (f", … (+{len(ids) - limit:,})" if len(ids) > limit else "")


def format_key(key: Any) -> str:
    """A key as people read it and type it for ``fullcache lookup``: text as
    is, anything else in its JSON spelling (``3``, ``true``, ``null``, tuples
    as arrays), a key of no JSON form as its repr."""
    value = json_key(key)
    if isinstance(value, str) and not isinstance(key, tuple):
        return value
    return json.dumps(value, ensure_ascii=False)


def differs_text(differs: Dict[str, list]) -> str:
    """The columns colliding rows differ in, the kept row's value first."""
    return "differ in " + "; ".join(
        f"{column} {' / '.join(json.dumps(json_key(v), ensure_ascii=False) for v in values)}"
        for column, values in differs.items()
    )


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
class PerModel:
    """What every per-model report starts with: the model, and whether it
    could be read."""

    model: str
    table: str
    mixin: str
    mixin_class: str
    status: Status = Status.OK
    error: Optional[str] = None

    def head_json(self) -> dict:
        fields = ("model", "table", "mixin", "mixin_class", "status", "error")
        return {name: getattr(self, name) for name in fields} | {"status": self.status.value}


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
        from . import __version__

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


@dataclass
class ModelRow:
    """One cached model of the listing, and its rows (or why not counted)."""

    model: "CachedModel"
    rows: Optional[int] = None
    error: Optional[str] = None

    def to_json(self) -> dict:
        return {**self.model.as_dict(), "rows": self.rows, "error": self.error}


@dataclass
class ModelsReport:
    """The cached models of a models module, with their row counts."""

    database: str
    models: List[ModelRow] = field(default_factory=list)

    @property
    def unreadable(self) -> bool:
        return any(row.error for row in self.models)

    def to_json(self) -> dict:
        return {"schema": MODELS_SCHEMA, "database": self.database, "models": [m.to_json() for m in self.models]}


@dataclass
class Entry:
    """One entry of a key cache, as inspect shows it."""

    key: Any
    id: Any
    repr: str

    def to_json(self) -> dict:
        return {"key": json_key(self.key), "id": self.id, "repr": self.repr}


@dataclass
class InspectReport:
    """Everything warm observed about one model, plus the shapes of its keys,
    the mixin's statistics and a sample of entries."""

    database: str
    model: ModelReport
    key_types: Dict[str, int] = field(default_factory=dict)
    stats: Optional[dict] = None
    entries: List[Entry] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT

    def to_json(self) -> dict:
        return {
            "schema": INSPECT_SCHEMA,
            "database": self.database,
            **self.model.to_json(),
            "key_types": self.key_types,
            "stats": self.stats,
            "entries": [e.to_json() for e in self.entries],
        }


@dataclass
class Merge:
    """Whether the cached object merged into a second session."""

    ok: bool
    error: Optional[str] = None

    def to_json(self) -> dict:
        return {"ok": self.ok, "error": self.error}


@dataclass
class LookupReport:
    """One lookup through the model's own by_cache_key (or by_id)."""

    database: str
    model: str
    key: Any
    by: str  # "key" or "id"
    found: bool = False
    source: Optional[str] = None  # "cache", "database" or None
    id: Any = None
    values: Optional[Dict[str, Any]] = None
    merge: Optional[Merge] = None
    cache_us: Optional[float] = None  # median of repeated lookups from one session
    first_hit_us: Optional[float] = None  # median of first lookups, each from a new session
    db_us: Optional[float] = None
    repeat: int = DEFAULT_REPEAT  # the most lookups timed of each kind
    # How many were timed (a time budget cuts slow lookups short).
    cache_samples: int = 0
    first_hit_samples: int = 0
    db_samples: int = 0
    reason: Optional[str] = None
    shadows: List[Any] = field(default_factory=list)
    suggestions: List[str] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def speedup(self) -> Optional[float]:
        """How many times faster a repeated cached lookup is than the
        database (below 1: slower), to three significant digits; None when
        either was not timed."""
        return ratio(self.db_us, self.cache_us)

    def to_json(self) -> dict:
        return {
            "schema": LOOKUP_SCHEMA,
            "database": self.database,
            "model": self.model,
            "key": json_key(self.key),
            "by": self.by,
            "found": self.found,
            "source": self.source,
            "id": self.id,
            "values": self.values,
            "merge": self.merge.to_json() if self.merge else None,
            "cache_us": self.cache_us,
            "first_hit_us": self.first_hit_us,
            "db_us": self.db_us,
            "speedup": self.speedup,
            "repeat": self.repeat,
            "cache_samples": self.cache_samples,
            "first_hit_samples": self.first_hit_samples,
            "db_samples": self.db_samples,
            "reason": self.reason,
            "shadows": self.shadows,
            "suggestions": self.suggestions,
            "error": self.error,
        }


# -- coherence ------------------------------------------------------------------


STATUS_SCHEMA = "fullcache.coherence-status/1"
CHANGE_SCHEMA = "fullcache.coherence-change/1"

@dataclass
class ChangeReport:
    """What coherence install, uninstall or invalidate did (or, with
    ``written`` False, the SQL it would run)."""

    action: str
    database: str
    backend: str
    tables: List[str]
    sql: str
    written: bool
    created: List[str] = field(default_factory=list)
    removed: List[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "schema": COHERENCE_CHANGE_SCHEMA, "action": self.action, "database": self.database, "backend": self.backend,
            "tables": self.tables, "written": self.written, "created": self.created, "removed": self.removed,
            "sql": self.sql,
        }


@dataclass
class TableStatus:
    """One cached table's change capture."""

    model: str
    table: str
    trigger: Optional[str]  # "enabled always", "enabled", "disabled", or None: missing
    generation: Optional[int]
    commits_last_minute: Optional[int]

    def to_json(self) -> dict:
        return {"model": self.model, "table": self.table, "trigger": self.trigger, "generation": self.generation,
                "commits_last_minute": self.commits_last_minute}


@dataclass
class StatusReport:
    """Change capture on one database: ``fullcache coherence status``."""

    database: str
    backend: str
    installed: bool
    tables: List[TableStatus]
    listeners: List[dict]
    queue_usage: Optional[float]
    warnings: List[str]

    @property
    def ok(self) -> bool:
        return self.installed and all(t.trigger in ("enabled always", "sqlite") for t in self.tables)

    def to_json(self) -> dict:
        return {
            "schema": COHERENCE_STATUS_SCHEMA, "database": self.database, "backend": self.backend, "installed": self.installed,
            "capture": "database" if self.installed else "orm (raw SQL invisible)",
            "tables": [t.to_json() for t in self.tables], "listeners": self.listeners,
            "notification_queue_usage": self.queue_usage, "warnings": self.warnings, "ok": self.ok,
        }


@dataclass
class WatchEvent:
    """One change notification, as ``fullcache watch`` shows it."""

    table: str
    txid: Optional[int]
    sender_pid: int
    delay_ms: Optional[float]
    received_at: float

    def to_json(self) -> dict:
        return {"table": self.table, "txid": self.txid, "sender_pid": self.sender_pid,
                "delay_ms": self.delay_ms, "received_at": self.received_at}


# -- verify ---------------------------------------------------------------------


@dataclass
class StaleRow:
    """A cached row whose table row differs now."""

    id: Any
    columns: Dict[str, Tuple[Any, Any]]  # column -> (cached value, table value)
    key_moved: bool
    cached_key: Any
    table_key: Any

    def to_json(self) -> dict:
        columns = {name: {"cached": json_value(old), "table": json_value(new)} for name, (old, new) in self.columns.items()}
        return {
            "id": self.id, "columns": columns, "key_moved": self.key_moved,
            "cached_key": json_key(self.cached_key), "table_key": json_key(self.table_key),
        }


@dataclass
class KeyDrift:
    """A key-cache entry whose row no longer has that key: ``table_ids`` are
    the rows that have it now (empty: none does)."""

    key: Any
    cached_id: Any
    table_ids: List[Any]

    def to_json(self) -> dict:
        return {"key": json_key(self.key), "cached_id": self.cached_id, "table_ids": list(self.table_ids)}


DRIFT_COUNTS = ("stale", "missing", "extra", "key_drift")


@dataclass
class ModelDrift(PerModel):
    """How one model's caches compare with its table."""

    populated: bool = False  # the caches were reset: verify populated them
    populate_error: Optional[str] = None
    rows: Optional[int] = None
    cached_ids: Optional[int] = None
    cached_keys: Optional[int] = None
    stale: List[StaleRow] = field(default_factory=list)
    missing: List[Any] = field(default_factory=list)
    extra: List[Any] = field(default_factory=list)
    key_drift: List[KeyDrift] = field(default_factory=list)
    unloaded: int = 0  # cached objects with a mapped column not loaded (not compared)

    @property
    def drift(self) -> bool:
        return bool(self.stale or self.missing or self.extra or self.key_drift)

    def counts(self) -> Dict[str, int]:
        return {name: len(getattr(self, name)) for name in DRIFT_COUNTS}

    def drift_problem(self) -> Problem:
        """``check --verify``'s problem for this model."""
        n = self.counts()
        return Problem(self.model, "drift", [s.id for s in self.stale] + self.missing + self.extra, error=(
            f"caches differ from the table: {n['stale']:,} stale, {n['missing']:,} missing, {n['extra']:,} extra, "
            f"{plural(n['key_drift'], 'key')} drifted"
        ))

    def to_json(self) -> dict:
        return {
            **self.head_json(),
            "populated": self.populated,
            "populate_error": self.populate_error,
            "rows": self.rows,
            "cached_ids": self.cached_ids,
            "cached_keys": self.cached_keys,
            "counts": self.counts(),
            "drift": self.drift,
            "stale": [s.to_json() for s in self.stale],
            "missing": list(self.missing),
            "extra": list(self.extra),
            "key_drift": [k.to_json() for k in self.key_drift],
            "unloaded": self.unloaded,
        }


@dataclass
class VerifyReport:
    """Every model's drift; ``ok`` when none drifted and all could be read."""

    database: str
    models: List[ModelDrift]
    seconds: float = 0.0
    after_seconds: Optional[float] = None  # the command line's wait after its warm

    @property
    def drifted(self) -> List[ModelDrift]:
        return [m for m in self.models if m.drift]

    @property
    def ok(self) -> bool:
        """Nothing drifted, and every model could be read."""
        return not self.drifted and all(m.status is Status.OK for m in self.models)

    def counts(self) -> Dict[str, int]:
        return {name: sum(m.counts()[name] for m in self.models) for name in DRIFT_COUNTS}

    def to_json(self) -> dict:
        return {
            "schema": VERIFY_SCHEMA,
            "database": self.database,
            "scope": VERIFY_SCOPE,
            "after_seconds": self.after_seconds,
            "seconds": self.seconds,
            "models": [m.to_json() for m in self.models],
            "counts": self.counts(),
            "drifted_models": [m.model for m in self.drifted],
            "ok": self.ok,
        }
