"""Models whose own code fails the way an application's can, mid-warm: for
the error and fault tests. Each test sets ``CONTROL`` before it runs
fullcache (the module is imported once, so the CLI sees the same dict).

- ``First``, ``Last``: clean, three rows each (warmed before and after the others)
- ``Killed``: populate_cache terminates its own connection (PostgreSQL),
  through ``CONTROL["admin_url"]``, then reads its table
- ``Sleepy``: populate_cache runs ``SELECT pg_sleep(5)`` (PostgreSQL)
- ``Interrupted``: populate_cache raises KeyboardInterrupt (Ctrl-C)
- ``Leaky``: populate_cache logs, warns and raises with ``CONTROL["secret_url"]``
  (a URL with a password) in the message
- ``KeyLeaky``: cache_key() raises with ``CONTROL["secret_url"]`` in the message
- ``Chatty``: populate_cache logs a multi-line message, an exception with its
  traceback, and a call whose arguments do not fit its format, prints a line
  to stdout, then warms
"""

import logging
import warnings

from sqlalchemy import Integer, String, create_engine, text
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.pool import NullPool

from fullcache_cli import HasFullTableCache
from tests.apps import fill_named, reset_caches

CONTROL: dict = {}

log = logging.getLogger("tests.apps.faulty")


class Base(DeclarativeBase):
    pass


def _columns(**extra):
    return {
        "__module__": __name__,
        "id": mapped_column(Integer, primary_key=True),
        "name": mapped_column(String(200)),
        "cache_key": lambda self: self.name,
        **extra,
    }


def _model(class_name, **extra):
    namespace = _columns(**extra)
    namespace["__tablename__"] = f"faulty_{class_name.lower()}"
    return type(class_name, (HasFullTableCache, Base), namespace)


@classmethod
def _populate_killed(cls, _db):
    pid = _db.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(CONTROL["admin_url"], poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()
    HasFullTableCache.populate_cache.__func__(cls, _db)


@classmethod
def _populate_sleepy(cls, _db):
    _db.execute(text("SELECT pg_sleep(5)"))
    HasFullTableCache.populate_cache.__func__(cls, _db)


@classmethod
def _populate_interrupted(cls, _db):
    raise KeyboardInterrupt


@classmethod
def _populate_leaky(cls, _db):
    url = CONTROL["secret_url"]
    log.error("could not refresh from %s", url)
    warnings.warn(f"falling back from {url}")
    raise RuntimeError(f"cannot reach {url}")


@classmethod
def _populate_chatty(cls, _db):
    log.warning("first line of a warning\nsecond line")
    try:
        raise LookupError("the cause")
    except LookupError:
        log.exception("refreshing failed")
    log.warning("%s rows of %s", 3)  # one argument short, as happens
    print("populating Chatty")  # straight to stdout, as happens too
    HasFullTableCache.populate_cache.__func__(cls, _db)


def _key_leaky(self):
    raise ValueError(f"no key without {CONTROL['secret_url']}")


First = _model("First")
Killed = _model("Killed", populate_cache=_populate_killed)
Sleepy = _model("Sleepy", populate_cache=_populate_sleepy)
Interrupted = _model("Interrupted", populate_cache=_populate_interrupted)
Leaky = _model("Leaky", populate_cache=_populate_leaky)
KeyLeaky = _model("KeyLeaky", cache_key=_key_leaky)
Chatty = _model("Chatty", populate_cache=_populate_chatty)
Last = _model("Last")

MODELS = [First, Killed, Sleepy, Interrupted, Leaky, KeyLeaky, Chatty, Last]


def fill(engine):
    """Create every table, three rows each."""
    fill_named(engine, Base, MODELS)


def reset_all():
    """CONTROL emptied, every model's caches cleared."""
    CONTROL.clear()
    reset_caches(MODELS)
