"""A models module with a problem of every kind planted, each with a known
answer, twice over: on the application's own copy of the seed's mixin
(``Seed*`` models) and on fullcache's (``Fc*`` models). ``fill(engine)``
creates the tables (all but the ``*Missing`` ones) and their rows.

Known answers (ids), the same for both prefixes unless said:
- ``Genre``: "Fiction" on rows 1 and 3 (seed keeps 3, the last; fullcache 1)
- ``Tag``: row 2's key is a list (unhashable)
- ``Shelf``: cache_key() raises on rows 2 and 4 (the seed's populate aborts)
- ``Label``: rows 1 and 2 have the key None
- ``Setting``: cache_key() changes row 2 in place, which leaves it dirty
- ``Missing``: its table does not exist
- ``Format``: clean
"""

from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

from fullcache_cli import HasFullTableCache

from tests.apps import reset_caches, seed_cache


class Base(DeclarativeBase):
    pass


def _genre_key(self):
    return self.name


def _tag_key(self):
    return [self.name] if self.name.startswith("list:") else self.name


def _shelf_key(self):
    if self.code.startswith("!"):
        raise ValueError(f"bad shelf code {self.code!r}")
    return self.code


def _setting_key(self):
    if self.value != self.value.strip():
        self.value = self.value.strip()
    return (self.key,)


def _define(prefix, mixin, seed_style):
    def model(class_name, table, cache_key, **columns):
        namespace = {
            "__module__": __name__,
            "__tablename__": f"{prefix.lower()}_{table}",
            "id": mapped_column(Integer, primary_key=True),
            "cache_key": cache_key,
            **columns,
        }
        if seed_style:
            namespace["_cache"] = mixin.RESET
            namespace["_id_cache"] = mixin.RESET
        return type(f"{prefix}{class_name}", (mixin, Base), namespace)

    return [
        model("Genre", "genres", _genre_key, name=mapped_column(String(50))),
        model("Tag", "tags", _tag_key, name=mapped_column(String(50))),
        model("Shelf", "shelves", _shelf_key, code=mapped_column(String(50))),
        model("Label", "labels", _genre_key, name=mapped_column(String(50), nullable=True)),
        model("Setting", "settings", _setting_key, key=mapped_column(String(50)), value=mapped_column(String(50))),
        model("Missing", "missing", _genre_key, name=mapped_column(String(50))),
        model("Format", "formats", _genre_key, name=mapped_column(String(50))),
    ]


SeedGenre, SeedTag, SeedShelf, SeedLabel, SeedSetting, SeedMissing, SeedFormat = _define(
    "Seed", seed_cache.HasFullTableCache, seed_style=True
)
FcGenre, FcTag, FcShelf, FcLabel, FcSetting, FcMissing, FcFormat = _define("Fc", HasFullTableCache, seed_style=False)

CLEAN = ["SeedFormat", "FcFormat"]

ROWS = {
    "Genre": [dict(id=1, name="Fiction"), dict(id=2, name="Poetry"), dict(id=3, name="Fiction"), dict(id=4, name="Drama")],
    "Tag": [dict(id=1, name="red"), dict(id=2, name="list:blue"), dict(id=3, name="green")],
    "Shelf": [dict(id=n, code=("!" if n in (2, 4) else "") + f"S{n}") for n in range(1, 6)],
    "Label": [dict(id=1, name=None), dict(id=2, name=None), dict(id=3, name="a")],
    "Setting": [dict(id=1, key="a", value="x"), dict(id=2, key="b", value=" padded "), dict(id=3, key="c", value="z")],
    "Format": [dict(id=1, name="epub"), dict(id=2, name="pdf"), dict(id=3, name="audio")],
}


def all_models():
    return [value for value in globals().values() if isinstance(value, type) and issubclass(value, Base) and value is not Base]


def fill(engine):
    """Create every table but the missing ones, and insert the rows above."""
    tables = [m.__table__ for m in all_models() if not m.__name__.endswith("Missing")]
    Base.metadata.create_all(engine, tables=tables)
    with Session(engine) as session:
        for model in all_models():
            for name, rows in ROWS.items():
                if model.__name__.endswith(name):
                    session.execute(model.__table__.insert(), rows)
        session.commit()


def reset_all():
    """Every model's caches cleared."""
    reset_caches(all_models())
