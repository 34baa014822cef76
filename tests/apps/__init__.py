"""Models modules with known answers, for the tests."""

from sqlalchemy import Integer, String
from sqlalchemy.orm import Session, mapped_column

from fullcache_cli import HasFullTableCache


class Named(HasFullTableCache):
    """A model whose rows are ``{id, name}`` and whose key is the name, as
    fill_named gives them."""

    id = mapped_column(Integer, primary_key=True)
    name = mapped_column(String(100))

    def cache_key(self):
        return self.name


def fill_named(engine, base, models, ids=(1, 2, 3)) -> None:
    """Create ``base``'s tables and give each model rows ``{id, name}``."""
    base.metadata.create_all(engine)
    with Session(engine) as session:
        for model in models:
            session.execute(model.__table__.insert(), [{"id": n, "name": f"{model.__name__}-{n}"} for n in ids])
        session.commit()
