"""Warming: fill each model's caches with the model's own ``populate_cache``
and observe what the application really gets.

Per model, in one read-only session: COUNT the rows; populate (the cyclic
collector paused, nothing listening on each loaded object); find the rows
whose key was lost (to a collision, an error, None) by calling
``cache_key()`` again only on rows the key cache does not hold; check which
cached objects a lookup from another session could not merge (a state check,
a real merge only where that does not decide); size the caches from a
sample. Then, from a second session, time hits through the model's own
``by_id`` against primary-key queries. The table is read a second time only
when the caches do not hold every row (populate dropped some, or stopped).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, List, Optional, Protocol, Sequence

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from .analysis import cached_objects, key_problems, merge_failures, model_caches, row_id
from .baseline import Baseline, apply_baseline, load_baseline
from .database import Database, connection_for, connection_lost, count_rows, session_on
from .errors import UsageError
from .loading import CachedModel, resolve_models
from .memory import estimate_cache_bytes, evenly
from .reports import KINDS, Lookups, ModelReport, Status, WarmReport
from .runtime.gcpause import gc_paused
from .runtime.mixin import uncounted
from .timing import p50_p99, time_calls

LOOKUP_SAMPLES = 200  # ids timed through the model's own by_id
DB_SAMPLES = 50  # of those, also fetched by primary key from the database
STREAM_BATCH = 1000
PROGRESS_SECONDS = 0.2  # how often the progress display hears of rows loaded


class WarmProgress(Protocol):
    """What a progress display hears while models warm."""

    def model_started(self, model: str, rows: Optional[int]) -> None: ...

    def rows_loaded(self, model: str, rows: int) -> None: ...

    def model_finished(self, report: ModelReport) -> None: ...


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
) -> WarmReport:
    """Warm every cached model (or those named) and report what each got.

    ``bind`` is a database URL, an Engine, fullcache's Database or a Session
    (whose transaction is joined through savepoints and left as it was).
    ``models`` is a models module, a list of mapped classes, or None for the
    sample. The models' caches stay warm afterwards, so an application can call this at start-up.
    """
    targets = resolve_models(models, names)
    started = time.perf_counter()
    with connection_for(bind, statement_timeout) as (connection, database):
        reports = warm_on(connection, database, targets, progress=progress, lookup_samples=lookup_samples)
    return WarmReport(database.display_url, reports, seconds=time.perf_counter() - started)


def warm_on(
    connection: Connection,
    database: Database,
    targets: Sequence[CachedModel],
    *,
    progress: Optional[WarmProgress] = None,
    lookup_samples: int = LOOKUP_SAMPLES,
) -> List[ModelReport]:
    """Warm ``targets`` on an open connection to ``database``, one report
    each. When the connection drops, the model at hand reports it and the rest are not run."""
    reports: List[ModelReport] = []
    lost: Optional[str] = None
    transaction = connection.get_transaction()
    for model in targets:
        if lost is not None:
            reports.append(_not_run(model, lost))
            continue
        if progress is not None:
            progress.model_started(model.name, None)
        try:
            report = _Observer(connection, database, model, progress, lookup_samples).run()
        except _ConnectionLost as error:
            lost = str(error)
            report = _base_report(model, Status.ERROR, lost)
        reports.append(report)
        if progress is not None:
            progress.model_finished(report)
        if lost is None:
            transaction = _restore_transaction(connection, transaction)
    return reports


def _restore_transaction(connection: Connection, transaction: Any) -> Any:
    """The transaction the next model runs in. A model's own code may have
    ended ours (``session.connection().commit()``) and left another, maybe
    failed, in its place: roll that back and begin again (read-only, as
    every transaction of fullcache's engines), so that one model's code
    cannot spoil the models after it."""
    if transaction is None or (transaction.is_active and connection.get_transaction() is transaction):
        return transaction
    try:
        if connection.in_transaction():
            connection.rollback()
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
    **options: Any,
) -> WarmReport:
    """``warm`` plus a verdict: ``report.ok`` is False when a problem was
    found that is neither allowed nor known.

    ``allow`` holds kinds (``"none_key"``) or a model's kind
    (``"Genre:collision"``); ``max_warm_seconds`` makes a slower model a
    problem; ``baseline`` (a path, or a loaded :class:`Baseline`) accepts the
    problems it lists, and ``max_growth`` makes a model whose warm time or
    memory grew past that ratio of the baseline's a problem.
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
    report = warm(bind, models, names, **options)
    report.allowed = rules
    report.max_warm_seconds = max_warm_seconds
    if baseline is not None:
        apply_baseline(report, baseline, max_growth)
    return report


def _base_report(model: CachedModel, status: Status = Status.OK, error: Optional[str] = None) -> ModelReport:
    return ModelReport(model.name, model.table, model.mixin, model.mixin_class, status, error)


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
    ) -> None:
        self.connection = connection
        self.describe = database.describe
        self.model = model
        self.cls = model.cls
        self.progress = progress
        self.lookup_samples = lookup_samples
        self.report = _base_report(model)

    def fail_if_lost(self, error: BaseException) -> None:
        if connection_lost(self.connection, error):
            raise _ConnectionLost(f"connection lost while warming {self.model.name}: {self.describe(error)}") from error

    def run(self) -> ModelReport:
        report = self.report
        session = session_on(self.connection)
        try:
            try:
                with session.no_autoflush:
                    report.rows = count_rows(session, self.cls)
            except Exception as error:
                self.fail_if_lost(error)
                report.status = Status.ERROR
                report.error = f"table {self.model.table!r} cannot be read: {self.describe(error)}"
                return report
            if self.progress is not None:
                self.progress.model_started(self.model.name, report.rows)
            # The collector paused for foreign mixins' populates too (gcpause).
            with gc_paused():
                self.populate(session)
                with session.no_autoflush:
                    self.observe(session)
        finally:
            try:
                session.close()
            except sa_exc.DBAPIError as error:
                self.fail_if_lost(error)
        with uncounted(self.cls):  # the application's statistics are its own
            self.time_lookups()
        return report

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
        except Exception as error:
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
        report.merge_failures = merge_failures(self.cls, cached, self.describe)
        keys = key_problems(self.every_row(session, cached), key_cache, self.describe)
        report.collisions, report.key_errors, report.none_keys = keys.collisions, keys.key_errors, keys.none_keys
        report.memory_bytes = estimate_cache_bytes(id_cache, key_cache)

    def every_row(self, session: Session, cached: List[Any]) -> List[Any]:
        """Every row of the table as an object: those the caches hold, and
        (only when they do not hold them all: populate dropped or never
        reached some) the rest, read again."""
        rows = list(cached)
        if self.report.rows is not None and len(rows) < self.report.rows:
            seen = {row_id(obj) for obj in rows}
            try:
                result = session.execute(select(self.cls).execution_options(yield_per=STREAM_BATCH))
                for obj in result.scalars():
                    if row_id(obj) not in seen:
                        rows.append(obj)
            except Exception as error:
                self.fail_if_lost(error)
                self.report.error = f"rows that populate did not load cannot be read: {self.describe(error)}"
        return rows

    def time_lookups(self) -> None:
        report, cls = self.report, self.cls
        if report.populate_error or not report.cached_ids or not hasattr(cls, "by_id"):
            return
        id_cache, _ = model_caches(cls)
        broken = {failure.id for failure in report.merge_failures}
        ids = [i for i in evenly(id_cache.keys(), len(id_cache), self.lookup_samples) if i not in broken]
        if not ids:
            return
        from sqlalchemy import inspect

        primary_key = inspect(cls).primary_key
        session = session_on(self.connection)
        try:
            for row_id in ids:  # the first lookup from a session may merge
                cls.by_id(session, row_id)
            cache_us = time_calls(lambda row_id: cls.by_id(session, row_id), ids)
            db_us = None
            if len(primary_key) == 1:
                column = primary_key[0]
                db_us = time_calls(
                    lambda row_id: session.execute(select(cls).where(column == row_id)).scalar_one_or_none(),
                    ids[:DB_SAMPLES],
                )
            cache_p50, cache_p99 = p50_p99(cache_us)
            db_p50, db_p99 = p50_p99(db_us) if db_us else (None, None)
            report.lookups = Lookups(len(ids), cache_p50, cache_p99, db_p50, db_p99)
        except Exception as error:
            self.fail_if_lost(error)
            report.lookup_error = self.describe(error)
        finally:
            try:
                session.close()
            except sa_exc.DBAPIError as error:
                self.fail_if_lost(error)
