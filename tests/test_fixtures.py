"""The database fixtures of conftest.py do what they promise."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool


def _table(metadata: MetaData) -> Table:
    return Table(
        "things",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(50), nullable=False),
    )


def _engine(url: str):
    # NullPool: nothing stays connected once the test is done with it.
    return create_engine(url, poolclass=NullPool)


def test_database_url_is_empty_and_writable(backend, database_url):
    assert isinstance(database_url, str)
    engine = _engine(database_url)
    assert engine.dialect.name == backend
    assert inspect(engine).get_table_names() == []

    metadata = MetaData()
    things = _table(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(things.insert(), [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
    with engine.connect() as conn:
        rows = conn.execute(select(things.c.id, things.c.name).order_by(things.c.id)).all()
    assert [tuple(r) for r in rows] == [(1, "one"), (2, "two")]
    engine.dispose()


def test_new_database_url_gives_independent_databases(backend, new_database_url):
    first, second = new_database_url(), new_database_url()
    assert first != second

    metadata = MetaData()
    things = _table(metadata)
    engine_one, engine_two = _engine(first), _engine(second)
    metadata.create_all(engine_one)
    with engine_one.begin() as conn:
        conn.execute(things.insert(), [{"id": 1, "name": "only in the first"}])

    assert inspect(engine_one).get_table_names() == ["things"]
    assert inspect(engine_two).get_table_names() == []
    engine_one.dispose()
    engine_two.dispose()


def test_postgres_password_url_connects_as_password_role(postgres_password_url):
    url = make_url(postgres_password_url)
    # The special characters survive the string form (they are percent-quoted in it).
    assert url.username == "fullcache_pw"
    assert url.password == "s3cr3t-P@ss:w0rd/x"
    assert "s3cr3t-P@ss:w0rd/x" not in postgres_password_url

    engine = _engine(postgres_password_url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT current_user")).scalar() == "fullcache_pw"
        conn.execute(text("CREATE TABLE t (x integer)"))
        conn.execute(text("INSERT INTO t VALUES (42)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 42
    engine.dispose()


def test_postgres_bad_password_url_is_refused(postgres_bad_password_url):
    engine = _engine(postgres_bad_password_url)
    with pytest.raises(OperationalError, match="password authentication failed"):
        with engine.connect():
            pass
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_admin_url_can_terminate_other_connections(database_url, postgres_admin_url):
    admin = create_engine(postgres_admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    engine = _engine(database_url)
    with engine.connect() as victim:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        with pytest.raises(OperationalError):
            victim.execute(text("SELECT 1"))
    engine.dispose()
    admin.dispose()
