"""Shared fixtures: real Redis and real databases (never fakes).

Redis: the machine's server at 127.0.0.1:6379 (REDIS_TEST_URL overrides), one logical
database per worker, flushed around each test that asks for it.
"""

from __future__ import annotations

import os

import pytest
import redis

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/9")
PG_TEST_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def redis_url() -> str:
    return REDIS_TEST_URL


@pytest.fixture
def r(redis_url: str):  # type: ignore[no-untyped-def]
    from streams.redis_conn import connect

    client = connect(redis_url)
    try:
        client.ping()
    except redis.ConnectionError as exc:  # pragma: no cover - the CI script starts Redis
        pytest.fail(f"Redis not reachable at {redis_url}: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
