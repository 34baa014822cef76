"""The mixin under concurrency: several threads, each with its own Session,
doing by_id, by_cache_key, populate_cache and reset_cache at once, on SQLite
(a file database) and PostgreSQL.

What must hold whatever the interleaving:
- no thread ever gets an exception;
- every object handed out is the one asked for (its id, its key), in the
  asking thread's session; an id or key not in the table gives None;
- a cache is either RESET or whole: any snapshot of ``Model._cache`` or
  ``Model._id_cache`` that is not RESET has exactly one entry per row (a
  watcher thread checks this continuously as well);
- the statistics add up: hits + misses == lookups made, no merge failures,
  at least as many populates as were asked for.
"""

from __future__ import annotations

import random
import sys
import threading
import time
import traceback
from collections import Counter

import pytest
from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

from fullcache_cli import HasFullTableCache

RESET = HasFullTableCache.RESET

ROWS = 200
THREADS = 6
OPS_PER_THREAD = 1200  # 7,200 operations per backend
SWITCH_INTERVAL = 1e-4  # switch threads often: more interleavings per second


def define_model():
    class Base(DeclarativeBase):
        pass

    class Genre(HasFullTableCache, Base):
        __tablename__ = "genres"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String(50), nullable=False)

        def cache_key(self):
            return self.name

    return Base, Genre


def key_of(id):
    return f"genre-{id}"


def check_snapshot(cache, what):
    """A cache someone could read right now is RESET or whole."""
    if cache is not RESET:
        size = len(cache)
        assert size == ROWS, f"{what} seen with {size} entries, not {ROWS}"


def run_worker(Model, engine, index, barrier, tally, errors):
    rng = random.Random(index)
    done = Counter()
    session = Session(engine)
    try:
        barrier.wait()
        for _ in range(OPS_PER_THREAD):
            check_snapshot(Model._cache, "_cache")
            check_snapshot(Model._id_cache, "_id_cache")
            roll = rng.random()
            if roll < 0.50:
                id = rng.randint(1, ROWS + 6)  # now and then an id that is not there
                obj = Model.by_id(session, id)
                done["lookups"] += 1
                if id <= ROWS:
                    assert obj is not None, f"by_id({id}) gave None"
                    assert obj.id == id and obj.cache_key() == key_of(id), f"by_id({id}) gave id {obj.id}"
                    assert obj in session
                else:
                    assert obj is None
            elif roll < 0.97:
                id = rng.randint(1, ROWS + 6)
                key = key_of(id)

                def hook(key=key):
                    found = session.execute(select(Model).filter_by(name=key)).scalar_one_or_none()
                    return found, False

                obj, is_new = Model.by_cache_key(session, key, hook)
                done["lookups"] += 1
                assert is_new is False
                if id <= ROWS:
                    assert obj is not None, f"by_cache_key({key!r}) gave None"
                    assert obj.cache_key() == key and obj.id == id, f"by_cache_key({key!r}) gave id {obj.id}"
                    assert obj in session
                else:
                    assert obj is None
            elif roll < 0.99:
                Model.reset_cache()
                done["resets"] += 1
            else:
                Model.populate_cache(session)
                done["populates"] += 1
            check_snapshot(Model._cache, "_cache")
            check_snapshot(Model._id_cache, "_id_cache")
    except BaseException:
        errors.append(f"thread {index}:\n{traceback.format_exc()}")
        barrier.abort()
    finally:
        session.close()
        tally.update(done)


def run_watcher(Model, stop, errors, seen):
    try:
        while not stop.is_set():
            check_snapshot(Model._cache, "_cache")
            check_snapshot(Model._id_cache, "_id_cache")
            seen["snapshots"] += 1
            time.sleep(0)  # let the workers run
    except BaseException:
        errors.append(f"watcher:\n{traceback.format_exc()}")


@pytest.fixture
def stress_engine(backend, database_url):
    if backend == "sqlite":
        # A file database (database_url is one); connections move between threads.
        engine = create_engine(database_url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=THREADS + 2)
    else:
        engine = create_engine(database_url, pool_size=THREADS + 2)
    yield engine
    engine.dispose()


@pytest.fixture
def switch_often():
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    yield
    sys.setswitchinterval(before)


def test_threads_looking_up_populating_and_resetting_at_once(stress_engine, switch_often):
    Base, Genre = define_model()
    Base.metadata.create_all(stress_engine)
    with stress_engine.begin() as conn:
        conn.execute(Genre.__table__.insert(), [dict(id=n, name=key_of(n)) for n in range(1, ROWS + 1)])

    barrier = threading.Barrier(THREADS)
    tally, seen, errors = Counter(), Counter(), []
    stop = threading.Event()
    workers = [
        threading.Thread(target=run_worker, args=(Genre, stress_engine, n, barrier, tally, errors))
        for n in range(THREADS)
    ]
    watcher = threading.Thread(target=run_watcher, args=(Genre, stop, errors, seen))
    started = time.perf_counter()
    watcher.start()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    stop.set()
    watcher.join(timeout=10)
    elapsed = time.perf_counter() - started

    assert not errors, "\n".join(errors)
    assert not any(t.is_alive() for t in workers + [watcher])
    assert tally["lookups"] + tally["resets"] + tally["populates"] == THREADS * OPS_PER_THREAD
    # The run really mixed everything up.
    assert tally["resets"] > 50 and tally["populates"] > 20 and seen["snapshots"] > 100

    stats = Genre.cache_stats()
    assert stats.hits + stats.misses == tally["lookups"]
    assert stats.merge_failures == 0
    assert stats.populates >= tally["populates"]
    # Ids/keys not in the table are misses, and so are lookups made while
    # another thread populates (they ask the database: one populate at a time).
    assert stats.hits > 0 and stats.misses > 0
    assert stats.merges > 0  # objects did travel between the threads' sessions
    assert stats.last_populate_rows == ROWS
    assert stats.collisions == {} and stats.key_errors == () and stats.none_keys == ()

    # And afterwards, the cache is as good as new.
    with Session(stress_engine) as session:
        assert Genre.by_id(session, 7).cache_key() == key_of(7)
        assert len(Genre._cache) == len(Genre._id_cache) == ROWS
    print(f"{THREADS * OPS_PER_THREAD} operations in {elapsed:.2f}s: {dict(tally)}, {stats.as_dict()}")
