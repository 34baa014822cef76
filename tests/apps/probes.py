"""Models whose own code observes or disturbs a warm, for the tests of what
warm promises. Each test sets ``CONTROL`` before it runs fullcache.

- ``Grows``: populate_cache first inserts a row from a connection of its own
  to ``CONTROL["url"]`` (another client of the database, committed at once),
  then populates: a row added between warm's COUNT and its populate.
- ``LookupFails``: its by_id raises, so warm cannot time lookups.
- ``Settings``: populate_cache records in ``CONTROL["settings"]`` the
  settings of the connection fullcache gives it, then populates.
- ``Interrupted``: populate_cache ends its session's savepoint and writes a
  row through the driver's connection, in fullcache's outer transaction (on
  SQLite it drops fullcache's authorizer and turns ``query_only`` off, and
  the file, which fullcache opened read-only, still refuses the row; on
  PostgreSQL it ends the read-only transaction and begins one that may
  write), writes ``wrote`` (or ``refused``) to the file ``CONTROL["ready"]``
  (or the environment's ``PROBES_READY``), then waits for Ctrl-C.

Every table has three rows: ids 1 to 3, names ``<Model>-<id>``.
"""

import os
import sqlite3
import time

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.apps import drop_authorizer, fill_named, named_models, reset_caches

CONTROL: dict = {}
Base = named_models("probes")


class Grows(Base):
    @classmethod
    def populate_cache(cls, _db):
        url = CONTROL["url"]
        insert = f"INSERT INTO {cls.__tablename__} (id, name) VALUES (4, 'inserted between COUNT and populate')"
        if url.startswith("sqlite"):
            # sqlite3 itself: SQLAlchemy's pool would be fullcache's, read-only.
            connection = sqlite3.connect(url.split("///", 1)[1])
            try:
                connection.execute(insert)
                connection.commit()
            finally:
                connection.close()
        else:
            engine = create_engine(url, poolclass=NullPool)
            try:
                with engine.begin() as connection:
                    connection.execute(text(insert))
            finally:
                engine.dispose()
        super().populate_cache(_db)


class LookupFails(Base):
    @classmethod
    def by_id(cls, _db, id):
        raise RuntimeError(f"no lookup of {cls.__name__} {id} today")


class Settings(Base):
    @classmethod
    def populate_cache(cls, _db):
        connection = _db.connection()
        if connection.dialect.name == "sqlite":
            settings = {
                "busy_timeout_ms": connection.exec_driver_sql("PRAGMA busy_timeout").scalar(),
                "query_only": connection.exec_driver_sql("PRAGMA query_only").scalar(),
            }
        else:
            dsn = connection.connection.dbapi_connection.get_dsn_parameters()
            settings = {
                "connect_timeout": dsn.get("connect_timeout"),
                "isolation": connection.exec_driver_sql("SHOW transaction_isolation").scalar(),
                "read_only": connection.exec_driver_sql("SHOW transaction_read_only").scalar(),
            }
        CONTROL["settings"] = settings
        super().populate_cache(_db)


class Interrupted(Base):
    @classmethod
    def populate_cache(cls, _db):
        insert = f"INSERT INTO {cls.__tablename__} (id, name) VALUES (4, 'written before Ctrl-C')"
        connection = _db.connection()
        dialect, dbapi_connection = connection.dialect.name, connection.connection.dbapi_connection
        # Released: the session's savepoint can no longer undo what follows,
        # only the rollback of fullcache's outer transaction can.
        _db.commit()
        cursor = dbapi_connection.cursor()
        if dialect == "sqlite":
            drop_authorizer(dbapi_connection)
            cursor.execute("PRAGMA query_only = OFF")
        else:
            cursor.execute("COMMIT")
            cursor.execute("BEGIN READ WRITE")
        try:
            cursor.execute(insert)
            outcome = "wrote" if cursor.rowcount == 1 else f"wrote {cursor.rowcount} rows"
        except sqlite3.OperationalError as error:
            outcome = "refused" if "readonly database" in str(error) else f"failed: {error}"
        ready = CONTROL.get("ready") or os.environ["PROBES_READY"]
        with open(ready + ".part", "w") as stream:
            stream.write(outcome)
        os.replace(ready + ".part", ready)  # whole or not at all, for the test that waits on it
        while True:
            time.sleep(0.05)


MODELS = [Grows, LookupFails, Settings, Interrupted]


def fill(engine):
    """Create every table, three rows each."""
    fill_named(engine, Base, MODELS)


def reset_all():
    """CONTROL emptied, every model's caches cleared."""
    CONTROL.clear()
    reset_caches(MODELS)
