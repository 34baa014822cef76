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

import threading
import time
import warnings
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator, List, Optional, Protocol, Sequence

from sqlalchemy import func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import instance_state

from .database import Database, connection_for, session_on
from .errors import describe
from .gcpause import gc_paused
from .loading import CachedModel, cached_model, load_models, require_models, select_models
from .memory import estimate_cache_bytes, evenly
from .report import Collision, Lookups, ModelReport, RowError, WarmReport
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
    module named by ``FULLCACHE_MODELS`` (default: the sample). The models'
    caches stay warm afterwards, so an application can call this at start-up.
    """
    targets = resolve_models(models, names)
    started = time.perf_counter()
    with connection_for(bind, statement_timeout) as (connection, display_url, redact):
        reports = warm_on(connection, targets, redact, progress=progress, lookup_samples=lookup_samples)
    return WarmReport(display_url, reports, seconds=time.perf_counter() - started)


def warm_on(
    connection: Connection,
    targets: Sequence[CachedModel],
    redact: Callable[[str], str] = lambda text: text,
    *,
    progress: Optional[WarmProgress] = None,
    lookup_samples: int = LOOKUP_SAMPLES,
) -> List[ModelReport]:
    """Warm ``targets`` on an open connection, one report each. When the
    connection drops, the model at hand reports it and the rest are not run."""
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
            report = _Observer(connection, model, progress, redact, lookup_samples).run()
        except _ConnectionLost as error:
            lost = str(error)
            report = _base_report(model)
            report.status = "error"
            report.error = lost
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
    **options: Any,
) -> WarmReport:
    """``warm`` plus a verdict: ``report.ok`` is False when a problem of a
    kind not in ``allow`` was found, or a model took over
    ``max_warm_seconds`` to warm."""
    report = warm(bind, models, names, **options)
    report.allowed = frozenset(allow)
    report.max_warm_seconds = max_warm_seconds
    return report


def resolve_models(models: Any = None, names: Sequence[str] = ()) -> List[CachedModel]:
    """The cached models to work on, from a module, classes or the default."""
    if models is None:
        found = require_models(load_models())
    elif isinstance(models, ModuleType):
        found = require_models(models)
    else:
        found = [m if isinstance(m, CachedModel) else cached_model(m) for m in models]
    return select_models(found, names)


def _base_report(model: CachedModel) -> ModelReport:
    return ModelReport(model.name, model.table, model.mixin, model.mixin_class)


def _not_run(model: CachedModel, why: str) -> ModelReport:
    report = _base_report(model)
    report.status = "not run"
    report.error = f"not run: {why}"
    return report


def resolve_model(model: "str | type | CachedModel", models: Any = None) -> CachedModel:
    """One cached model, given as a name (looked up in ``models``), a class
    or a CachedModel."""
    if isinstance(model, CachedModel):
        return model
    if isinstance(model, type):
        return cached_model(model)
    return resolve_models(models, [model])[0]


def _as_dict(value: Any, reset: Any) -> dict:
    return value if isinstance(value, dict) and value is not reset else {}


def model_caches(cls: type) -> tuple[dict, dict]:
    """The model's id cache and key cache as they are now (empty when reset)."""
    return _as_dict(cls._id_cache, cls.RESET), _as_dict(cls._cache, cls.RESET)


def row_id(obj: Any) -> Any:
    """``obj.id``, or None when it cannot be read."""
    try:
        return obj.id
    except Exception:
        return None


def _sorted(ids: List[Any]) -> List[Any]:
    try:
        return sorted(ids)
    except TypeError:
        return ids


class _Observer:
    """Warms one model and collects its report."""

    def __init__(
        self,
        connection: Connection,
        model: CachedModel,
        progress: Optional[WarmProgress],
        redact: Callable[[str], str],
        lookup_samples: int,
    ) -> None:
        self.connection = connection
        self.model = model
        self.cls = model.cls
        self.progress = progress
        self.redact = redact
        self.lookup_samples = lookup_samples
        self.report = _base_report(model)

    def describe(self, error: BaseException) -> str:
        return self.redact(describe(error))

    def lost(self, error: BaseException) -> bool:
        invalidated = isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
        return bool(invalidated or self.connection.invalidated or self.connection.closed)

    def fail_if_lost(self, error: BaseException) -> None:
        if self.lost(error):
            raise _ConnectionLost(f"connection lost while warming {self.model.name}: {self.describe(error)}") from error

    def run(self) -> ModelReport:
        report = self.report
        session = session_on(self.connection)
        try:
            try:
                with session.no_autoflush:
                    report.rows = session.execute(select(func.count()).select_from(self.cls)).scalar_one()
            except Exception as error:
                self.fail_if_lost(error)
                report.status = "error"
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
        cls, report = self.cls, self.report
        id_cache = _as_dict(cls._id_cache, cls.RESET)
        key_cache = _as_dict(cls._cache, cls.RESET)
        report.cached_ids = len(id_cache)
        report.cached_keys = len(key_cache)
        cached = self.cached_objects(id_cache, key_cache)
        # Before cache_key() is called again: it may change objects itself.
        report.merge_failures = self.merge_failures(cached)
        rows = self.every_row(session, cached)
        self.key_problems(rows, key_cache)
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

    def key_problems(self, rows: List[Any], key_cache: dict) -> None:
        """Collisions, key errors and None keys, from the rows whose object is
        not a value of the key cache (the only ones whose key is computed again)."""
        report = self.report
        kept = set(map(id, key_cache.values()))
        losers: dict = {}
        none_keys = []
        for obj in rows:
            if id(obj) in kept:
                continue
            this_id = row_id(obj)
            try:
                key = obj.cache_key()
                if key is not None:
                    hash(key)
            except Exception as error:
                report.key_errors.append(RowError(this_id, self.describe(error)))
                continue
            if key is None:
                none_keys.append(this_id)
            else:
                losers.setdefault(key, []).append(this_id)
        if None in key_cache:
            none_keys.append(row_id(key_cache[None]))
        report.none_keys = _sorted(none_keys)
        for key, ids in losers.items():
            held = key_cache.get(key)
            kept_id = None if held is None else row_id(held)
            every = ids if held is None else [kept_id] + ids
            if len(every) > 1:
                report.collisions.append(Collision(key, _sorted(every), kept_id))
        report.key_errors.sort(key=lambda e: (str(type(e.id)), e.id if e.id is not None else 0))

    def merge_failures(self, cached: List[Any]) -> List[RowError]:
        """Cached objects that ``merge(load=False)`` into another session
        would refuse. A clean, persistent object with no loaded relationship
        to cascade into always merges; anything else is tried for real in a
        session bound to nothing."""
        from sqlalchemy import inspect

        mapper = inspect(self.cls)
        cascading = [r.key for r in mapper.relationships if r.cascade.merge]
        failures = []
        scratch: Optional[Session] = None
        for obj in cached:
            try:
                state = instance_state(obj)
            except Exception:
                continue
            if state.key is not None and not state.modified:
                if not cascading or not any(k in state.dict for k in cascading):
                    continue
            if scratch is None:
                scratch = Session()
            try:
                scratch.merge(obj, load=False)
            except Exception as error:
                failures.append(RowError(row_id(obj), self.describe(error)))
            finally:
                scratch.expunge_all()
        if scratch is not None:
            scratch.close()
        return failures

    @staticmethod
    def cached_objects(id_cache: dict, key_cache: dict) -> List[Any]:
        """Every object either cache holds, once."""
        by_id = set(map(id, id_cache.values()))
        return [*id_cache.values(), *(obj for obj in key_cache.values() if id(obj) not in by_id)]

    def time_lookups(self) -> None:
        report, cls = self.report, self.cls
        if report.populate_error or not report.cached_ids or not hasattr(cls, "by_id"):
            return
        id_cache = _as_dict(cls._id_cache, cls.RESET)
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
