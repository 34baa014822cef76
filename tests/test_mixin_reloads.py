"""What the mixin does for coherence: one populate at a time per model and
process, reloads in a transaction of their own, hook results left out of the
caches, and bypass while the listener is away. On both backends."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.orm import DeclarativeBase, Session

from tests.apps import Named


def define(url):
    class Base(DeclarativeBase):
        pass

    class Shelf(Named, Base):
        __tablename__ = "shelves"

    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO shelves (id, name) VALUES (1, 'a'), (2, 'b')"))
    return Shelf, engine


def test_one_populate_at_a_time_others_ask_the_database(database_url):
    Shelf, engine = define(database_url)
    entered, release = threading.Event(), threading.Event()
    populate = Shelf.populate_cache.__func__

    def slow_populate(cls, _db):
        entered.set()
        release.wait(30)
        populate(cls, _db)

    Shelf.populate_cache = classmethod(slow_populate)
    other = []

    def look_up(id):
        with Session(engine) as session:
            other.append(Shelf.by_id(session, id).name)

    first = threading.Thread(target=look_up, args=(1,))
    first.start()
    assert entered.wait(30)
    # Meanwhile another lookup neither waits nor loads the table again.
    second = threading.Thread(target=look_up, args=(2,))
    second.start()
    second.join(30)
    alive = second.is_alive()
    release.set()
    first.join(30)
    second.join(30)
    assert not alive and other == ["b", "a"]
    assert Shelf.cache_stats().populates == 1
    engine.dispose()


def test_with_a_reload_session_the_callers_session_is_not_read_nor_cached(database_url):
    Shelf, engine = define(database_url)
    reloads = []

    @contextmanager
    def reload_session():
        reloads.append(1)
        with Session(engine) as session:
            yield session

    Shelf._fullcache.reload_session = reload_session
    caller = Session(engine)
    caller.add(Shelf(id=3, name="uncommitted"))
    caller.flush()
    assert Shelf.by_id(caller, 1).name == "a"
    assert reloads == [1]
    assert 3 not in Shelf._id_cache  # the caller's uncommitted row
    found, _ = Shelf.by_cache_key(caller, "uncommitted", lambda: (caller.get(Shelf, 3), False))
    assert found.id == 3 and 3 not in Shelf._id_cache and "uncommitted" not in Shelf._cache
    caller.rollback()
    caller.close()
    engine.dispose()


def test_bypass_asks_the_database_and_fills_nothing(database_url):
    Shelf, engine = define(database_url)
    session = Session(engine)
    Shelf.by_id(session, 1)
    Shelf._fullcache.bypass = True
    Shelf.reset_cache()
    with engine.begin() as connection:
        connection.execute(text("UPDATE shelves SET name = 'fresh' WHERE id = 2"))
    with Session(engine) as other:
        assert Shelf.by_id(other, 2).name == "fresh"
    assert Shelf._id_cache is Shelf.RESET and Shelf.cache_stats().populates == 1
    Shelf._fullcache.bypass = False
    with Session(engine) as other:
        assert Shelf.by_id(other, 2).name == "fresh"
    assert Shelf.cache_stats().populates == 2
    session.close()
    engine.dispose()
