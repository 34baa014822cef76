"""What a progress display hears while models warm: each model started
(then again with its row count), rows loaded while its populate runs, and
each model finished, in that order."""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

import fullcache_cli
from fullcache_cli import warming
from tests.apps import named_models


Base = named_models("progress")


class SlowShelf(Base):
    """Loads its rows, then dawdles, so that the display polls meanwhile."""

    @classmethod
    def populate_cache(cls, _db):
        super().populate_cache(_db)
        time.sleep(0.2)


class Recorder:
    def __init__(self) -> None:
        self.events: list = []
        self.threads: set = set()

    def model_started(self, model, rows):
        self.events.append(("started", model, rows))

    def rows_loaded(self, model, rows):
        self.threads.add(threading.current_thread().name)
        self.events.append(("rows", model, rows))

    def model_finished(self, report):
        self.events.append(("finished", report.model, report.cached_ids))


def test_rows_loaded_are_heard_while_populate_runs(database_url, monkeypatch):
    engine = create_engine(database_url, poolclass=NullPool)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(SlowShelf(id=i, name=f"shelf-{i}") for i in range(1, 51))
        session.commit()
    engine.dispose()
    monkeypatch.setattr(warming, "PROGRESS_SECONDS", 0.01)
    recorder = Recorder()
    try:
        report = fullcache_cli.warm(database_url, [SlowShelf], progress=recorder)
    finally:
        SlowShelf.reset_cache()
    assert report.models[0].cached_ids == 50

    kinds = [event[0] for event in recorder.events]
    assert kinds[:2] == ["started", "started"] and recorder.events[1] == ("started", "SlowShelf", 50)
    assert kinds[-1] == "finished" and recorder.events[-1] == ("finished", "SlowShelf", 50)
    rows = [event[2] for event in recorder.events if event[0] == "rows"]
    assert rows, recorder.events  # heard during the 0.2 s the populate dawdles
    assert rows[-1] == 50 and all(0 <= n <= 50 for n in rows)
    assert set(kinds[2:-1]) == {"rows"}
    # Polled from a thread of its own, and once more when populate is done.
    assert recorder.threads == {"fullcache progress SlowShelf", "MainThread"}
