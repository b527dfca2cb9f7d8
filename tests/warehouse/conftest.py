"""Fixtures for warehouse tests: each test runs on a fresh SQLite file and on a fresh PostgreSQL
schema (first on the search_path, dropped afterwards), so tests never see each other's rows."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, make_url

from tests.warehouse.samples import STRUCTS
from warehouse.db import make_engine
from warehouse.facts import FactTables
from warehouse.schema import create_schema

PG_URL = os.environ.get("WAREHOUSE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@cache
def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    url = make_url(PG_URL)
    try:
        psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                        dbname=url.database, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at {url.host}:{url.port}/{url.database} is unreachable: {str(exc).strip()[:200]}"
    return None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A URL to an empty database of each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/warehouse.db"
        return
    reason = pg_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A consumer-role engine on the empty database."""
    eng = make_engine(db_url, role="consumer")
    yield eng
    eng.dispose()


@pytest.fixture
def tables() -> FactTables:
    return FactTables(STRUCTS)


@pytest.fixture
def warehouse(engine: Engine, tables: FactTables) -> Engine:
    """The consumer engine with dimensions, ops and the sample fact tables created."""
    create_schema(engine, tables)
    return engine
