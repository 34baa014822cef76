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

from sqlalchemy.orm import DeclarativeBase

from tests.apps import Attempts, Named, fill_named


class Base(DeclarativeBase):
    pass


_attempts = Attempts()
attempted, written, _try = _attempts.attempted, _attempts.written, _attempts.run
# Where Attaches puts its new database file (set by the tests).
CONTROL: dict = {}


class _Named(Named):
    ESCAPE: tuple = ()

    @classmethod
    def escape(cls, _db):
        for statement in cls.ESCAPE:
            _db.connection().exec_driver_sql(statement)

    @classmethod
    def populate_cache(cls, _db):
        if cls is not Plain:
            _try(cls.__name__, lambda: cls.escape(_db))
        super().populate_cache(_db)


class CommitSessionReadWrite(_Named, Base):
    __tablename__ = "escapers_session_read_write"
    ESCAPE = (
        "COMMIT",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        f"INSERT INTO {__tablename__} (id, name) VALUES (100, 'written')",
        "COMMIT",
    )


class CommitBeginReadWrite(_Named, Base):
    __tablename__ = "escapers_begin_read_write"
    ESCAPE = ("COMMIT", "BEGIN READ WRITE", f"INSERT INTO {__tablename__} (id, name) VALUES (100, 'written')", "COMMIT")


class CommitDefaultReadWrite(_Named, Base):
    __tablename__ = "escapers_default_read_write"
    ESCAPE = (
        "COMMIT",
        "SET default_transaction_read_only = off",
        f"INSERT INTO {__tablename__} (id, name) VALUES (100, 'written')",
        "COMMIT",
    )


class QueryOnlyOff(_Named, Base):
    __tablename__ = "escapers_query_only_off"
    ESCAPE = ("PRAGMA query_only = OFF", f"INSERT INTO {__tablename__} (id, name) VALUES (100, 'written')", "COMMIT")


class RawQueryOnlyOff(_Named, Base):
    __tablename__ = "escapers_raw_query_only_off"

    @classmethod
    def escape(cls, _db):
        raw = _db.connection().connection.driver_connection
        raw.execute("PRAGMA query_only = OFF")
        raw.execute(f"INSERT INTO {cls.__tablename__} (id, name) VALUES (100, 'written')")
        raw.commit()


class Attaches(_Named, Base):
    __tablename__ = "escapers_attaches"

    @classmethod
    def escape(cls, _db):
        connection = _db.connection()
        path = os.path.join(CONTROL["folder"], "attached.db")
        connection.exec_driver_sql(f"ATTACH DATABASE '{path}' AS attached")
        connection.exec_driver_sql("CREATE TABLE attached.planted (x)")


class DriverCommit(_Named, Base):
    __tablename__ = "escapers_driver_commit"

    @classmethod
    def escape(cls, _db):
        raw = _db.connection().connection.driver_connection
        postgresql = hasattr(raw, "set_session")
        if not postgresql:
            raw.set_authorizer(None)
            raw.execute("PRAGMA query_only = OFF")
        raw.commit()
        if postgresql:
            raw.set_session(readonly=False)
        cursor = raw.cursor()
        cursor.execute(f"INSERT INTO {cls.__tablename__} (id, name) VALUES (100, 'written')")
        raw.commit()


class UndoesSavepoint(_Named, Base):
    __tablename__ = "escapers_undoes_savepoint"

    @classmethod
    def escape(cls, _db):
        raw = _db.connection().connection.driver_connection
        cursor = raw.cursor()
        if hasattr(raw, "set_session"):
            cursor.execute("ROLLBACK TO SAVEPOINT fullcache_outer")
        else:
            raw.set_authorizer(None)
            cursor.execute("PRAGMA query_only = OFF")
        cursor.execute(f"INSERT INTO {cls.__tablename__} (id, name) VALUES (100, 'written')")


class Plain(_Named, Base):
    __tablename__ = "escapers_plain"


POSTGRESQL = [CommitSessionReadWrite, CommitBeginReadWrite, CommitDefaultReadWrite]
SQLITE = [QueryOnlyOff, RawQueryOnlyOff, Attaches]
MODELS = POSTGRESQL + SQLITE + [DriverCommit, UndoesSavepoint, Plain]


def fill(engine):
    """Create every table, three rows each."""
    fill_named(engine, Base, MODELS)
