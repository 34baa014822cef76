"""Models whose data and code try to get into fullcache's output: for the
tests of masking, terminal escaping and stdout.

- ``Evil``: text primary keys that a terminal would act upon (ESC[2J, an
  ESC]0; window title, rich markup for a hyperlink, CR/LF), all with one
  key (a collision that lists them); populate_cache logs through a logger
  whose name holds an escape sequence, then warms; its table's name is
  rich markup
- ``Leaks``: populate_cache prints a database URL holding
  ``CONTROL["password"]`` (plain and URL-quoted), a libpq DSN holding it, and
  raises with the URL in the message. The module prints such a URL at
  import too. The tests make the password the model's own name, "postgres"...
- ``Clean``: a clean model
"""

import logging
import sys
from urllib.parse import quote

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

from fullcache_cli import HasFullTableCache
from tests.apps import Named, fill_named, reset_caches

DEFAULT_PASSWORD = "Leaks"
CONTROL: dict = {"password": DEFAULT_PASSWORD}

EVIL_IDS = [
    "[link=http://evil.example]click[/link]",
    "a\r\nb",
    "\x1b[2J",
    "\x1b]0;pwned\x07",
]
EVIL_LOGGER = "evil\x1b]0;logger\x07"


def leaked_url(password: str) -> str:
    return f"postgresql://app:{password}@db.internal:5432/app"


print(f"models module connecting to {leaked_url(CONTROL['password'])}")


class Base(DeclarativeBase):
    pass


class Evil(HasFullTableCache, Base):
    __tablename__ = "outputs_[bold]evil[/bold]"
    id = mapped_column(String(100), primary_key=True)
    name = mapped_column(String(100))

    def cache_key(self):
        return "one key"

    @classmethod
    def populate_cache(cls, _db):
        logging.getLogger(EVIL_LOGGER).warning("warned \x1b[31mred\x1b[0m")
        super().populate_cache(_db)


class Leaks(Named, Base):
    __tablename__ = "outputs_leaks"

    @classmethod
    def populate_cache(cls, _db):
        password = CONTROL["password"]
        print(f"refreshing from {leaked_url(password)}")
        print(f"or from {leaked_url(quote(password, safe=''))}", file=sys.stderr)
        print(f"dsn: host=db.internal password={password} dbname=app")
        raise RuntimeError(f"cannot reach {leaked_url(password)}")


class Clean(Named, Base):
    __tablename__ = "outputs_clean"


MODELS = [Evil, Leaks, Clean]


def fill(engine):
    fill_named(engine, Base, [Leaks, Clean], ids=(1, 2))
    with Session(engine) as session:
        session.execute(Evil.__table__.insert(), [{"id": id, "name": "evil"} for id in EVIL_IDS])
        session.commit()


def reset_all():
    """CONTROL's password back to the default, every model's caches cleared."""
    CONTROL["password"] = DEFAULT_PASSWORD
    reset_caches(MODELS)
