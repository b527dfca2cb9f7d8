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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_app(data: Path, port: int | None = None, **env: str) -> Any:
    """The real app as `app.py web` builds it (migrated first) on the test Redis and a fresh SQLite under
    `data`; `env` adds settings. The Flask server knows its test port and shares the auth context."""
    import app
    from settings import load_settings

    port = port or free_port()  # the port a test may serve it on (allowed origins are built from it)
    settings = load_settings({"DATA_DIR": str(data), "REDIS_URL": REDIS_TEST_URL, "DURABILITY": "warn",
                              "PORT": str(port), **env}, path=data / "none.yaml")
    app.cmd_migrate(settings)
    dash_app, socketio = app.create_web(settings)
    server = dash_app.server
    server.config["TEST_PORT"] = port
    server.config["TEST_TOKENS"] = server.extensions["cc_auth"].tokens
    server.config["TEST_SOCKETIO"] = socketio
    return server


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real web app with single sign-on configured (its provider unreachable, so every route exists).

    Yields (flask server, accounts, engine, socketio)."""
    server = build_app(tmp_path_factory.mktemp("web"), OIDC_ISSUER="http://127.0.0.1:9/no-provider",
                       OIDC_CLIENT_ID="cc", OIDC_CLIENT_SECRET="unused")
    ctx = server.extensions["cc_auth"]
    yield server, ctx.accounts, ctx.engine, server.config["TEST_SOCKETIO"]


def origin(client_or_app: Any) -> str:
    """This app's own origin, as a browser on it sends in Origin."""
    server = getattr(client_or_app, "application", client_or_app)
    return f"http://127.0.0.1:{server.config['TEST_PORT']}"
