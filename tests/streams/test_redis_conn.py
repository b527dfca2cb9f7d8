"""Embedded Redis and the durability check against real servers."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from streams.redis_conn import EmbeddedRedis, RedisDurabilityError, check_durability, connect, durability_problems


def test_embedded_redis_is_durable_and_keeps_data_across_restart(tmp_path: Path) -> None:
    emb = EmbeddedRedis(tmp_path)
    url = emb.start()
    try:
        r = connect(url)
        assert durability_problems(r) == ([], [])
        assert r.config_get("appendfsync") == {"appendfsync": "always"}  # acknowledged means on disk
        r.xadd("ev:x", {"e": b"1"})
    finally:
        emb.stop()
    assert (tmp_path / "redis").exists()
    again = EmbeddedRedis(tmp_path)
    try:
        assert connect(again.start()).xlen("ev:x") == 1
        # a second owner reuses the running server instead of starting another
        assert EmbeddedRedis(tmp_path).start() == again.url
    finally:
        again.stop()


def test_unsafe_redis_is_refused_in_strict_mode_and_warned_otherwise(r: redis.Redis) -> None:
    aof = r.config_get("appendonly")["appendonly"]
    policy = r.config_get("maxmemory-policy")["maxmemory-policy"]
    try:
        r.config_set("appendonly", "no")
        with pytest.raises(RedisDurabilityError, match="appendonly is no"):
            check_durability(r, "strict")
        assert check_durability(r, "warn") == ["appendonly is no: a Redis crash loses accepted events; "
                                               "set appendonly yes"]
        r.config_set("maxmemory-policy", "allkeys-lru")
        with pytest.raises(RedisDurabilityError, match="maxmemory-policy is allkeys-lru"):
            check_durability(r, "warn")
    finally:
        r.config_set("maxmemory-policy", policy)
        r.config_set("appendonly", aof)
