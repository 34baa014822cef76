"""Models whose own code tries to write, every way an application might:
fullcache must leave the database exactly as it found it.

- ``AddsRow``: populate_cache adds a row, flushes, and commits
- ``CommitsConnection``: populate_cache commits the session's connection,
  then inserts through it and commits again
- ``ReleasesSavepoints``: populate_cache releases the savepoint its session
  works in, then inserts through the connection
- ``EngineWriter``: populate_cache opens new connections from the session's
  engine (one in a transaction, one in autocommit mode) and inserts
- ``Mutates``: cache_key() changes the object in place (a dirty object)
- ``HookWriter``: by_id and by_cache_key go through a lookup hook that
  inserts, flushes and commits the session's connection
- ``Plain``: a clean model after all of them (it must still be warmed)

``attempted`` lists every write the models' code tried (the tests check that
each ran), ``written`` those the database did not refuse.
"""

from sqlalchemy import text

from tests.apps import Attempts, fill_named, named_models, reset_caches

Base = named_models("writers")
_attempts = Attempts()
attempted, written, _try = _attempts.attempted, _attempts.written, _attempts.run


class AddsRow(Base):
    @classmethod
    def populate_cache(cls, _db):
        def add_flush_commit():
            _db.add(cls(id=100, name="added by populate_cache"))
            _db.flush()
            _db.commit()

        _try("add, flush, commit", add_flush_commit)
        _db.rollback()
        _db.commit()
        super().populate_cache(_db)


class CommitsConnection(Base):
    @classmethod
    def populate_cache(cls, _db):
        def commit_insert_commit():
            connection = _db.connection()
            connection.commit()
            connection.execute(text(f"INSERT INTO {cls.__tablename__} (id, name) VALUES (101, 'after commit')"))
            connection.commit()

        _try("connection commit, insert, commit", commit_insert_commit)
        super().populate_cache(_db)


class ReleasesSavepoints(Base):
    @classmethod
    def populate_cache(cls, _db):
        def release_insert():
            connection = _db.connection()
            nested = connection.get_nested_transaction()
            if nested is not None:
                nested.commit()
            connection.execute(text(f"INSERT INTO {cls.__tablename__} (id, name) VALUES (105, 'after release')"))

        _try("release savepoint, insert", release_insert)
        super().populate_cache(_db)


class EngineWriter(Base):
    @classmethod
    def populate_cache(cls, _db):
        engine = _db.get_bind().engine
        insert = f"INSERT INTO {cls.__tablename__} (id, name) VALUES (:id, 'from engine.connect()')"

        def in_transaction():
            with engine.connect() as connection:
                connection.execute(text(insert), {"id": 102})
                connection.commit()

        def in_autocommit():
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text(insert), {"id": 103})

        def with_begin():
            with engine.begin() as connection:
                connection.execute(text(insert), {"id": 104})

        _try("engine.connect(), insert, commit", in_transaction)
        _try("autocommit engine.connect(), insert", in_autocommit)
        _try("engine.begin(), insert", with_begin)
        super().populate_cache(_db)


class Mutates(Base):
    def cache_key(self):
        attempted.append("cache_key changes the object")
        self.name = (self.name or "") + "!"
        return self.name


class HookWriter(Base):
    @classmethod
    def _writing_hook(cls, _db, key):
        def hook():
            def write():
                _db.add(cls(id=200 + len(written), name=f"hook {key}"))
                _db.flush()
                _db.connection().commit()

            _try("lookup hook: add, flush, connection commit", write)
            return _db.get(cls, key) if isinstance(key, int) else None, False

        return hook

    @classmethod
    def by_id(cls, _db, id):
        obj, _ = cls._cache_lookup(_db, cls._id_cache, "_id_cache", id, cls._writing_hook(_db, id))
        # A hit never calls the hook: write here as well.
        cls._writing_hook(_db, id)()
        return obj

    @classmethod
    def by_cache_key(cls, _db, cache_key, lookup_hook=None):
        return cls._cache_lookup(_db, cls._cache, "_cache", cache_key, cls._writing_hook(_db, cache_key))


class Plain(Base):
    """A clean model after all of them."""


MODELS = [AddsRow, CommitsConnection, ReleasesSavepoints, EngineWriter, Mutates, HookWriter, Plain]


def fill(engine):
    """Create every table, three rows each."""
    fill_named(engine, Base, MODELS)


def reset_all():
    """What the models attempted and wrote forgotten, every model's caches cleared."""
    _attempts.clear()
    reset_caches(MODELS)
