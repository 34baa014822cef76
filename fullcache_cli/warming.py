"""Warming: fill each model's caches with the model's own ``populate_cache``
and observe what the application really gets.

Per model, in one read-only session, in phases timed back to back: COUNT
the rows; populate (the cyclic collector paused, nothing listening on each
loaded object); check which cached objects a lookup from another session
could not merge (merge_check: the loaded graph walked once, a real merge only
where an object's state does not decide, within a time budget); find the
rows whose key was lost (to a collision, an error, None) by calling
``cache_key()`` again only on rows the key cache does not hold; size what the
caches keep reachable (memory). Then, from a second session, time hits
through the model's own ``by_id`` against primary-key queries, within a
budget. The table is read a second time only when the caches do not hold
every row (populate dropped some, or stopped).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence

from sqlalchemy import select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from .analysis import cached_objects, key_problems, model_caches, row_id, unreachable_keys
from .baseline import Baseline, apply_baseline, load_baseline
from .cancelling import handle_errors, time_limit
from .database import (
    Database, connection_for, connection_lost, count_rows, primary_key_column, session_on,
)
from .defaults import DEFAULT_MERGE_CHECK_SECONDS
from .errors import UsageError, reraise_interrupt
from .guards import watched, writable_tables
from .loading import CachedModel, resolve_models
from .lookup_timing import time_lookups
from .memory import cache_memory, count_copies, evenly
from .merge_check import check_merges
from .phases import Phases, WarmProgress
from .reports import KINDS, ModelReport, Status, WarmReport
from .runtime.gcpause import gc_paused
from .runtime.rows import stream_objects
from .runtime.stats import uncounted

LOOKUP_SAMPLES = 200  # ids timed through the model's own by_id
STREAM_BATCH = 1000
MERGE_CHECK_SECONDS = DEFAULT_MERGE_CHECK_SECONDS  # per model; the rows not reached are reported
PROGRESS_SECONDS = 0.2  # how often the progress display hears of rows loaded


class _ConnectionLost(Exception):
    pass


def warm(
    bind: "Database | Engine | Session | str",
    models: Any = None,
    names: Sequence[str] = (),
    *,
    progress: Optional[WarmProgress] = None,
    lookup_samples: int = LOOKUP_SAMPLES,
    statement_timeout: Optional[float] = None,
    merge_check_seconds: Optional[float] = MERGE_CHECK_SECONDS,
    model_timeout: Optional[float] = None,
) -> WarmReport:
    """Warm every cached model (or those named) and report what each got.

    ``bind`` is a database URL, an Engine, fullcache's Database or a Session
    (whose transaction is joined through savepoints and left as it was).
    ``models`` is a models module, a list of mapped classes, or None for the
    sample. The models' caches stay warm afterwards, so an application can call this at start-up.
    ``merge_check_seconds`` bounds each model's merge check (None: no bound);
    a check cut short says so in the model's ``cut_short``.
    ``statement_timeout`` (seconds) cancels any one statement that runs
    longer (that model's populate error); ``model_timeout`` stops a model
    whose whole warm runs longer (a ``timed_out`` problem), and the next
    model is warmed.
    """
    targets = resolve_models(models, names)
    started = time.perf_counter()
    with connection_for(bind, statement_timeout) as (connection, database):
        reports = warm_on(
            connection, database, targets, progress=progress, lookup_samples=lookup_samples,
            merge_check_seconds=merge_check_seconds, model_timeout=model_timeout,
        )
        privileges = writable_tables(connection, [sa_inspect(model.cls).local_table for model in targets])
    report = WarmReport(database.display_url, reports, seconds=time.perf_counter() - started)
    if privileges is not None:
        report.role, report.role_can_write = privileges
    return report


def warm_on(
    connection: Connection,
    database: Database,
    targets: Sequence[CachedModel],
    *,
    progress: Optional[WarmProgress] = None,
    lookup_samples: int = LOOKUP_SAMPLES,
    merge_check_seconds: Optional[float] = MERGE_CHECK_SECONDS,
    model_timeout: Optional[float] = None,
) -> List[ModelReport]:
    """Warm ``targets`` on an open connection to ``database``, one report
    each. When the connection drops, the model at hand reports it and the rest are not run.

    Each model's code runs watched (guards.watched): whatever it does to
    fullcache's transaction, the next model finds it as it was, and what could
    not be refused is that model's problem (``escaped_transaction``,
    ``database_write``)."""
    reports: List[ModelReport] = []
    observers: List[_Observer] = []
    lost: Optional[str] = None
    if model_timeout is not None:
        handle_errors(connection)
    for model in targets:
        if lost is not None:
            reports.append(_not_run(model, lost))
            continue
        if progress is not None:
            progress.model_started(model.name, None)
        observer = _Observer(connection, database, model, progress, lookup_samples, merge_check_seconds)
        try:
            with watched(connection) as watch:
                with time_limit(connection.connection.dbapi_connection, model_timeout) as limit:

                    def checkpoint() -> None:
                        with limit.shielded():
                            watch.checkpoint()  # the lookups run in fullcache's transaction, whatever populate did

                    observer.before_lookups = checkpoint
                    observer.run()
            report = observer.report
            report.breaches = watch.breaches
            report.timed_out = model_timeout if limit.expired else None
            observers.append(observer)
        except (_ConnectionLost, sa_exc.DBAPIError) as error:
            lost = str(error) if isinstance(error, _ConnectionLost) else observer.lost_message(error)
            report = _base_report(model, Status.ERROR, lost)
        except BaseException as error:
            # Whatever the model's code raised where warm did not expect it
            # (SystemExit, a proxy's error...) is that model's alone.
            reraise_interrupt(error)
            report = _base_report(model, Status.ERROR, f"warming {model.name} failed: {database.describe(error)}")
        reports.append(report)
        if progress is not None:
            progress.model_finished(report)
    _count_copies(observers)
    return reports


def _count_copies(observers: List["_Observer"]) -> None:
    """For each model, how many of the other cached models' objects its
    caches hold are copies: not the objects of that model's own cache (as
    once every model is warm; unknown for a model whose cache is not)."""
    for observer in observers:
        for model, states in observer.related_states.items():
            related = observer.report.related.get(model.__name__)
            if related is not None:
                related.copies = count_copies(model, states)
        observer.related_states = {}


def _restore_transaction(connection: Connection, transaction: Any) -> Any:
    """The transaction the next model runs in (verify's loop; warm's models
    run watched, see guards.watched). A model's own code may have ended ours
    and left another, maybe failed, in its place: roll that back and begin
    again (read-only, as every transaction of fullcache's engines)."""
    if transaction is None or (transaction.is_active and connection.get_transaction() is transaction):
        return transaction
    try:
        if connection.in_transaction():
            # The class's rollback: the connection's own is refused to the
            # models' code while fullcache holds it (guards.held).
            Connection.rollback(connection)
        return connection.begin()
    except sa_exc.SQLAlchemyError:
        return None  # the connection is gone: the next model reports it


def check(
    bind: "Database | Engine | Session | str",
    models: Any = None,
    names: Sequence[str] = (),
    *,
    allow: Iterable[str] = (),
    max_warm_seconds: Optional[float] = None,
    baseline: "Baseline | str | os.PathLike | None" = None,
    max_growth: Optional[float] = None,
    verify: bool = False,
    **options: Any,
) -> WarmReport:
    """``warm`` plus a verdict: ``report.ok`` is False when a problem was
    found that is neither allowed nor known.

    ``allow`` holds kinds (``"none_key"``) or a model's kind
    (``"Genre:collision"``); ``max_warm_seconds`` makes a slower model a
    problem; ``baseline`` (a path, or a loaded :class:`Baseline`) accepts the
    problems it lists, and ``max_growth`` makes a model whose warm time or
    memory grew past that ratio of the baseline's a problem. With
    ``verify``, the warmed caches are then compared with their tables
    (``fullcache_cli.verify``, in a snapshot of its own): a model whose
    caches differ is a ``drift`` problem.
    ``assert report.ok, report.summary()`` names every problem.
    """
    if max_growth is not None and baseline is None:
        raise UsageError("max_growth compares with a baseline: give one as well")
    if baseline is not None and not isinstance(baseline, Baseline):
        baseline = load_baseline(baseline)
    rules = frozenset(allow)
    for rule in rules:
        if rule.rpartition(":")[2] not in KINDS:
            raise UsageError(f"allow rule {rule!r} names no kind of problem (kinds: {', '.join(KINDS)}; or MODEL:KIND)")
    targets = resolve_models(models, names)
    report = warm(bind, targets, **options)
    report.allowed = rules
    report.max_warm_seconds = max_warm_seconds
    if verify:
        from .verifying import verify as compare

        report.verified = compare(bind, targets, statement_timeout=options.get("statement_timeout"))
    if baseline is not None:
        apply_baseline(report, baseline, max_growth)
    return report


def _base_report(model: CachedModel, status: Status = Status.OK, error: Optional[str] = None) -> ModelReport:
    return ModelReport(
        model.name, model.table, model.mixin, model.mixin_class, status, error, shared_cache=model.shared_cache
    )


def _not_run(model: CachedModel, why: str) -> ModelReport:
    return _base_report(model, Status.NOT_RUN, f"not run: {why}")


class _Observer:
    """Warms one model and collects its report."""

    def __init__(
        self,
        connection: Connection,
        database: Database,
        model: CachedModel,
        progress: Optional[WarmProgress],
        lookup_samples: int,
        merge_check_seconds: Optional[float] = MERGE_CHECK_SECONDS,
    ) -> None:
        self.connection = connection
        self.describe = database.describe
        self.model = model
        self.cls = model.cls
        self.progress = progress
        self.lookup_samples = lookup_samples
        self.merge_check_seconds = merge_check_seconds
        self.report = _base_report(model)
        self.phases = Phases(connection, self.report, progress)
        # Other cached models' objects this model's caches keep, for the copies note.
        self.related_states: dict = {}
        # Run before the lookups (the model's code again): see warm_on.
        self.before_lookups: Callable[[], None] = lambda: None

    def fail_if_lost(self, error: BaseException) -> None:
        if connection_lost(self.connection, error):
            raise _ConnectionLost(self.lost_message(error)) from error

    def lost_message(self, error: BaseException) -> str:
        return f"connection lost while warming {self.model.name}: {self.describe(error)}"

    def run(self) -> ModelReport:
        with self.phases:
            self.run_phases()
        return self.report

    def run_phases(self) -> None:
        report = self.report
        session = session_on(self.connection)
        try:
            self.phases.enter("count")
            try:
                with self.phases.uncounted():
                    session.connection()  # the savepoint
                with session.no_autoflush:
                    report.rows = count_rows(session, self.cls)
            except Exception as error:
                self.fail_if_lost(error)
                report.status = Status.ERROR
                report.error = f"table {self.model.table!r} cannot be read: {self.describe(error)}"
                return
            if self.model.shared_cache:
                # Populating would give the class caches of its own that the
                # application's code never gives it: the report would describe
                # a cache the application does not have.
                return
            if self.progress is not None:
                self.progress.model_started(self.model.name, report.rows)
            self.phases.enter("populate")
            # The collector paused for foreign mixins' populates too
            # (gcpause), and for the analyses: once enabled, its first passes
            # walk every object the populate made (seconds on 200,000 rows),
            # and the analyses leave no garbage cycles to collect (the merge
            # check merges only the objects whose state does not decide, and
            # those fail before copying anything).
            with gc_paused():
                self.populate(session)
                with session.no_autoflush:
                    self.observe(session)
        finally:
            # Expunging every loaded object takes its time on a big table.
            self.phases.enter("session close")
            try:
                with self.phases.uncounted():
                    session.close()
            except sa_exc.DBAPIError as error:
                self.fail_if_lost(error)
        self.phases.enter("lookups")
        with self.phases.uncounted():
            self.before_lookups()
        with uncounted(self.cls):  # the application's statistics are its own
            self.time_lookups()

    def populate(self, session: Session) -> None:
        cls = self.cls
        # The report describes what this populate builds, not what an
        # earlier one left behind.
        reset = getattr(cls, "reset_cache", None)
        if callable(reset):
            reset()
        started = time.perf_counter()
        try:
            with self.rows_progress(session):
                cls.populate_cache(session)
        except BaseException as error:
            # sys.exit(), argparse, CancelledError: the model failed, the run goes on.
            reraise_interrupt(error)
            self.fail_if_lost(error)
            self.report.populate_error = self.describe(error)
            if isinstance(error, sa_exc.DBAPIError) or not session.is_active:
                with warnings.catch_warnings():
                    # "nested transaction already deassociated": the model's
                    # own code ended the transaction; the report says so.
                    warnings.simplefilter("ignore", sa_exc.SAWarning)
                    session.rollback()
        finally:
            self.report.warm_seconds = time.perf_counter() - started

    @contextmanager
    def rows_progress(self, session: Session) -> Iterator[None]:
        """Rows loaded so far, for the progress display: the session's
        identity map, read a few times a second from a thread of its own (a
        listener on every loaded object would slow the load by a quarter)."""
        progress, name, total = self.progress, self.model.name, self.report.rows
        if progress is None:
            yield
            return
        done = threading.Event()

        def report() -> None:
            loaded = len(session.identity_map)
            progress.rows_loaded(name, loaded if total is None else min(loaded, total))

        def poll() -> None:
            while not done.wait(PROGRESS_SECONDS):
                report()

        thread = threading.Thread(target=poll, name=f"fullcache progress {name}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
        report()  # the rows populate ended with, while the report is made

    def observe(self, session: Session) -> None:
        report = self.report
        id_cache, key_cache = model_caches(self.cls)
        report.cached_ids = len(id_cache)
        report.cached_keys = len(key_cache)
        cached = cached_objects(id_cache, key_cache)
        # Before cache_key() is called again: it may change objects itself.
        self.phases.enter("merge check")
        self.merge_failures(cached)
        self.phases.enter("keys")
        keys = key_problems(self.every_row(session, cached), key_cache, self.describe)
        report.collisions, report.key_errors, report.none_keys = keys.collisions, keys.key_errors, keys.none_keys
        report.unreachable_keys = unreachable_keys(key_cache, self.describe)
        self.phases.enter("memory")
        memory = cache_memory(id_cache, key_cache, owner=self.cls, objects=cached)
        report.memory_bytes = memory.own_bytes
        report.related = memory.related
        self.related_states = memory.related_states

    def merge_failures(self, cached: List[Any]) -> None:
        """Cached objects that ``merge(load=False)`` into another session
        would refuse (see merge_check), within the time budget."""
        budget = self.merge_check_seconds
        deadline = None if budget is None else time.perf_counter() + budget
        progress = self.progress

        def decided(rows: int) -> None:
            progress.rows_loaded(self.model.name, rows)

        failures, summary = check_merges(
            cached, self.describe, row_id=row_id, deadline=deadline,
            progress=decided if progress is not None else None,
        )
        self.report.merge_failures = failures
        self.report.merge_check = summary
        if summary.cut_short:
            self.report.cut_short.append("merge check")

    def every_row(self, session: Session, cached: List[Any]) -> List[Any]:
        """Every row of the table as an object: those the caches hold, and
        (only when they do not hold them all: populate dropped or never
        reached some) the rest, read again."""
        rows = list(cached)
        if self.report.rows is not None and len(rows) < self.report.rows:
            seen = {row_id(obj) for obj in rows}
            try:
                for obj in stream_objects(session, select(self.cls), STREAM_BATCH):
                    if row_id(obj) not in seen:
                        rows.append(obj)
            except BaseException as error:
                reraise_interrupt(error)
                self.fail_if_lost(error)
                # Not fully read: an error, never "ok" beside an error message.
                self.report.status = Status.ERROR
                self.report.error = f"rows that populate did not load cannot be read: {self.describe(error)}"
        return rows

    def time_lookups(self) -> None:
        """Time the model's own ``by_id`` on up to ``lookup_samples`` ids
        against a primary-key query (see lookup_timing)."""
        report, cls = self.report, self.cls
        if report.populate_error or not report.cached_ids or not hasattr(cls, "by_id"):
            return
        id_cache, _ = model_caches(cls)
        broken = {failure.id for failure in report.merge_failures}
        ids = [i for i in evenly(id_cache.keys(), len(id_cache), self.lookup_samples) if i not in broken]
        if not ids:
            return
        column = primary_key_column(cls)
        session = session_on(self.connection)
        try:
            report.lookups = time_lookups(self.connection, session, cls, ids, column)
        except BaseException as error:
            reraise_interrupt(error)
            self.fail_if_lost(error)
            report.lookup_error = self.describe(error)
        finally:
            try:
                session.close()
            except sa_exc.DBAPIError as error:
                self.fail_if_lost(error)
