"""Fixtures for identity tests: a fresh database of each engine (SQLite and PostgreSQL) with the
core schema, and the real Redis of tests/conftest.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import REDIS_TEST_URL
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


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real web app (create_web) on the test Redis (REDIS_TEST_URL) and a fresh SQLite.

    Yields (flask server, accounts, engine, socketio)."""
    import app
    from settings import load_settings

    data: Path = tmp_path_factory.mktemp("web")
    with socket.socket() as s:  # the port a test may serve it on (allowed origins are built from it)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings({"DATA_DIR": str(data), "REDIS_URL": REDIS_TEST_URL, "DURABILITY": "warn",
                              "PORT": str(port), "OIDC_ISSUER": "http://127.0.0.1:9/no-provider",
                              "OIDC_CLIENT_ID": "cc", "OIDC_CLIENT_SECRET": "unused"}, path=data / "none.yaml")
    app.cmd_migrate(settings)
    dash_app, _socketio = app.create_web(settings)
    engine, _ = app.warehouse(settings, "web")
    accounts = app.accounts_of(settings, engine)
    dash_app.server.config["TEST_PORT"] = port
    dash_app.server.config["TEST_TOKENS"] = app.tokens_of(settings, engine)
    yield dash_app.server, accounts, engine, _socketio


def origin(client_or_app: Any) -> str:
    """This app's own origin, as a browser on it sends in Origin."""
    server = getattr(client_or_app, "application", client_or_app)
    return f"http://127.0.0.1:{server.config['TEST_PORT']}"
