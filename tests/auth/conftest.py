"""Fixtures for identity tests: a fresh database of each engine (SQLite and PostgreSQL) with the
core schema, and the real Redis of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.warehouse.conftest import db_url  # noqa: F401  (the same fresh-database fixture)
from warehouse.db import make_engine
from warehouse.schema import create_schema


@pytest.fixture
def idb(db_url: str) -> Iterator[Engine]:  # noqa: F811
    """A web-role engine (as the web process has) on a database with the identity tables."""
    setup = make_engine(db_url, role="consumer")
    create_schema(setup)
    setup.dispose()
    eng = make_engine(db_url, role="web")
    yield eng
    eng.dispose()
