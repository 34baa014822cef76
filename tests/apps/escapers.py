"""Models whose code tries to end or loosen fullcache's read-only transaction
and then write, each in one way:

- ``CommitSessionReadWrite`` (PostgreSQL): ``COMMIT``, ``SET SESSION
  CHARACTERISTICS AS TRANSACTION READ WRITE``, INSERT, ``COMMIT``
- ``CommitBeginReadWrite`` (PostgreSQL): ``COMMIT``, ``BEGIN READ WRITE``,
  INSERT, ``COMMIT``
- ``CommitDefaultReadWrite`` (PostgreSQL): ``COMMIT``, ``SET
  default_transaction_read_only = off``, INSERT, ``COMMIT``
- ``QueryOnlyOff`` (SQLite): ``PRAGMA query_only = OFF``, INSERT, ``COMMIT``
- ``RawQueryOnlyOff`` (SQLite): the same on the raw DB-API connection
- ``Attaches`` (SQLite): ``ATTACH DATABASE`` of a new file, a table in it
- ``DriverCommit``: on the raw DB-API connection, turns read-write where the
  driver can (sqlite3: drops the authorizer and ``query_only``), commits,
  (psycopg2: ``set_session(readonly=False)``), inserts and commits. Nothing
  on fullcache's side sees these calls: they are detected, not refused
  (SQLite files fullcache opens itself are read-only to SQLite: there the
  insert fails).
- ``UndoesSavepoint``: on the raw DB-API connection of a Session lent to
  fullcache, goes back to before fullcache's savepoint (PostgreSQL: which
  undoes its ``READ ONLY``) or drops its authorizer and ``query_only``
  (SQLite), then inserts
- ``Plain``: a clean model after all of them

Every write goes through ``_try``: ``attempted`` lists the writes tried,
``written`` those that did not raise.
"""

import os

from tests.apps import Attempts, drop_authorizer, fill_named, named_models, reset_caches

Base = named_models("escapers")
_attempts = Attempts()
attempted, written, _try = _attempts.attempted, _attempts.written, _attempts.run
# Where Attaches puts its new database file (set by the tests).
CONTROL: dict = {}
# In an ESCAPE, where the escaper's write goes.
PLANT = object()


class _Escaper(Base):
    __abstract__ = True
    ESCAPE: tuple = ()

    @classmethod
    def plant(cls) -> str:
        """The write an escape ends with: a row that must never land."""
        return f"INSERT INTO {cls.__tablename__} (id, name) VALUES (100, 'written')"

    @staticmethod
    def driver_connection(_db):
        """The DB-API connection under the session, where fullcache's
        SQLAlchemy side sees nothing of what is done."""
        return _db.connection().connection.driver_connection

    @classmethod
    def escape(cls, _db):
        for statement in cls.ESCAPE:
            _db.connection().exec_driver_sql(cls.plant() if statement is PLANT else statement)

    @classmethod
    def populate_cache(cls, _db):
        if cls is not Plain:
            _try(cls.__name__, lambda: cls.escape(_db))
        super().populate_cache(_db)


class CommitSessionReadWrite(_Escaper):
    ESCAPE = ("COMMIT", "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", PLANT, "COMMIT")


class CommitBeginReadWrite(_Escaper):
    ESCAPE = ("COMMIT", "BEGIN READ WRITE", PLANT, "COMMIT")


class CommitDefaultReadWrite(_Escaper):
    ESCAPE = ("COMMIT", "SET default_transaction_read_only = off", PLANT, "COMMIT")


class QueryOnlyOff(_Escaper):
    ESCAPE = ("PRAGMA query_only = OFF", PLANT, "COMMIT")


class RawQueryOnlyOff(_Escaper):
    @classmethod
    def escape(cls, _db):
        raw = cls.driver_connection(_db)
        raw.execute("PRAGMA query_only = OFF")
        raw.execute(cls.plant())
        raw.commit()


class Attaches(_Escaper):
    @classmethod
    def escape(cls, _db):
        connection = _db.connection()
        path = os.path.join(CONTROL["folder"], "attached.db")
        connection.exec_driver_sql(f"ATTACH DATABASE '{path}' AS attached")
        connection.exec_driver_sql("CREATE TABLE attached.planted (x)")


class DriverCommit(_Escaper):
    @classmethod
    def escape(cls, _db):
        raw = cls.driver_connection(_db)
        postgresql = hasattr(raw, "set_session")
        if not postgresql:
            drop_authorizer(raw)
            raw.execute("PRAGMA query_only = OFF")
        raw.commit()
        if postgresql:
            raw.set_session(readonly=False)
        raw.cursor().execute(cls.plant())
        raw.commit()


class UndoesSavepoint(_Escaper):
    @classmethod
    def escape(cls, _db):
        raw = cls.driver_connection(_db)
        cursor = raw.cursor()
        if hasattr(raw, "set_session"):
            cursor.execute("ROLLBACK TO SAVEPOINT fullcache_outer")
        else:
            drop_authorizer(raw)
            cursor.execute("PRAGMA query_only = OFF")
        cursor.execute(cls.plant())


class Plain(_Escaper):
    """A clean model after all of them."""


POSTGRESQL = [CommitSessionReadWrite, CommitBeginReadWrite, CommitDefaultReadWrite]
SQLITE = [QueryOnlyOff, RawQueryOnlyOff, Attaches]
MODELS = POSTGRESQL + SQLITE + [DriverCommit, UndoesSavepoint, Plain]


def fill(engine):
    """Create every table, three rows each."""
    fill_named(engine, Base, MODELS)


def reset_all():
    """CONTROL emptied, what the models attempted and wrote forgotten, every
    model's caches cleared."""
    CONTROL.clear()
    _attempts.clear()
    reset_caches(MODELS)
