"""Models modules with known answers, for the tests."""

from sqlalchemy.orm import Session


def fill_named(engine, base, models, ids=(1, 2, 3)) -> None:
    """Create ``base``'s tables and give each model rows ``{id, name}``."""
    base.metadata.create_all(engine)
    with Session(engine) as session:
        for model in models:
            session.execute(model.__table__.insert(), [{"id": n, "name": f"{model.__name__}-{n}"} for n in ids])
        session.commit()
