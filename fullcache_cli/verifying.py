"""verify: how far the caches of this process have drifted from their tables.

The caches are taken as they are now (a model whose caches are reset is
populated first, with its own ``populate_cache``, and the report says so);
the table is read in one read-only snapshot, streamed, and compared row by
row on the mapped column values: ``stale`` rows (cached, and different now),
``missing`` rows (in the table, not in the id cache), ``extra`` ids (cached,
no longer in the table), and key-cache entries whose key now belongs to
another row or to none. Relationships are not compared.

Memory stays bounded whatever the table's size: rows are streamed in
batches, and only findings are kept (plus the rows whose key the key cache
does not serve them under: collisions, None keys, key errors). Cached ids
are looked for in the table, in batches by primary key, only when the counts
show that some are gone. The comparison itself is analysis.Comparison.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Dict, Iterator, List, Optional, Sequence

from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import instance_state

from .analysis import Comparison, model_caches
from .database import Database, connection_for, connection_lost, session_on
from .errors import reraise_interrupt
from .loading import CachedModel, resolve_models
from .reports import ModelDrift, Status, VerifyReport
from .runtime.gcpause import gc_paused
from .runtime.rows import stream_objects
from .warming import _restore_transaction

STREAM_BATCH = 1000


def verify(
    bind: Any,
    models: Any = None,
    names: Sequence[str] = (),
    *,
    statement_timeout: Optional[float] = None,
) -> VerifyReport:
    """Compare the caches of this process, as they are now, with their tables.

    ``bind`` and ``models`` are as for ``warm``. A model whose caches are
    reset is populated first with its own ``populate_cache`` (in the same
    read-only snapshot; ``populated`` says so). Each table is read once, in
    one read-only snapshot for all the models, streamed; the caches are
    only read, never changed. Values are compared per mapped column;
    relationships are not compared.
    """
    targets = resolve_models(models, names)
    started = time.perf_counter()
    with connection_for(bind, statement_timeout) as (connection, database):
        reports = verify_on(connection, database, targets)
    return VerifyReport(database.display_url, reports, seconds=time.perf_counter() - started)


def verify_on(connection: Connection, database: Database, targets: Sequence[CachedModel]) -> List[ModelDrift]:
    """Verify ``targets`` on an open read-only connection to ``database``,
    one report each. When the connection drops, the model at hand says so
    and the rest are not run."""
    reports: List[ModelDrift] = []
    lost: Optional[str] = None
    transaction = connection.get_transaction()
    for model in targets:
        report = ModelDrift(model.name, model.table, model.mixin, model.mixin_class)
        reports.append(report)
        if lost is not None:
            report.status, report.error = Status.NOT_RUN, f"not run: {lost}"
            continue
        if model.shared_cache:
            # No caches of its own to compare (see loading.shared_cache).
            report.status, report.error = Status.ERROR, f"not verified: it {model.shared_cache}"
            continue
        try:
            cls = model.cls
            if cls._id_cache is cls.RESET or cls._cache is cls.RESET:
                report.populated = True
                _populate(connection, database, cls, report)
            _compare(connection, model, report)
        except BaseException as error:
            # What the model's code raised where verify did not expect it
            # (SystemExit, a proxy's error...) is that model's alone.
            reraise_interrupt(error)
            report.status = Status.ERROR
            if connection_lost(connection, error):
                lost = report.error = f"connection lost while verifying {model.name}: {database.describe(error)}"
            else:
                report.error = f"table {model.table!r} cannot be read: {database.describe(error)}"
        if lost is None:
            transaction = _restore_transaction(connection, transaction)
    return reports


def _populate(connection: Connection, database: Database, cls: type, report: ModelDrift) -> None:
    """The model's own populate, in a session of its own: the rows compared
    are read into another, never onto the cached objects themselves."""
    session = session_on(connection)
    try:
        with gc_paused():
            cls.populate_cache(session)
    except BaseException as error:
        # sys.exit(), argparse, CancelledError: the model failed, the run goes on.
        reraise_interrupt(error)
        if connection_lost(connection, error):
            raise
        report.populate_error = database.describe(error)
        if isinstance(error, sa_exc.DBAPIError) or not session.is_active:
            with warnings.catch_warnings():
                # "nested transaction already deassociated": the model's own
                # code ended the transaction; the report says populate failed.
                warnings.simplefilter("ignore", sa_exc.SAWarning)
                session.rollback()
    finally:
        session.close()


def _compare(connection: Connection, model: CachedModel, report: ModelDrift) -> None:
    cls = model.cls
    # Read once: a populate elsewhere swaps new dicts in, never changes these.
    id_cache, key_cache = model_caches(cls)
    report.cached_ids, report.cached_keys = len(id_cache), len(key_cache)
    comparison = Comparison(cls, id_cache, key_cache)
    session = session_on(connection)
    try:
        with session.no_autoflush:
            for obj in _stream(session, cls):
                comparison.add(obj)
                if instance_state(obj).modified:
                    # cache_key() changed it: the session would hold on to it.
                    session.expunge(obj)
            comparison.finish(lambda identities, objects: _present(session, cls, identities, objects))
    finally:
        session.close()
    report.rows = comparison.rows
    report.stale = comparison.stale
    report.missing = comparison.missing
    report.extra = comparison.extra
    report.key_drift = comparison.key_drift
    report.unloaded = comparison.unloaded


def _stream(session: Session, cls: type) -> Iterator[Any]:
    return iter(stream_objects(session, select(cls), STREAM_BATCH))


def _present(session: Session, cls: type, identities: Sequence[tuple], objects: bool) -> Dict[tuple, Any]:
    """Which of these primary keys the table has: each with its row as an
    object, or (``objects`` false: only the keys are read) True."""
    mapper = sa_inspect(cls)
    columns = list(mapper.primary_key)
    if len(columns) == 1:
        condition = columns[0].in_([identity[0] for identity in identities])
    else:
        condition = tuple_(*columns).in_(list(identities))
    if not objects:
        return {tuple(row): True for row in session.execute(select(*columns).where(condition))}
    return {
        mapper.identity_key_from_instance(obj)[1]: obj
        # Uniqued: joined eager loads of collections repeat an object per row.
        for obj in session.execute(select(cls).where(condition)).unique().scalars()
    }
