"""Health report: healthy with live dependencies, unhealthy (and saying why) without them."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import redis
from sqlalchemy import create_engine, text

from streams.consumer import ensure_group
from streams.health import publish_heartbeat, report
from streams.live_state import LiveState
from streams.redis_conn import connect

TZ = ZoneInfo("Asia/Shanghai")


def db_ok(engine):  # type: ignore[no-untyped-def]
    def check() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    return check


def test_healthy_report_lists_streams_groups_and_workers(r: redis.Redis, tmp_path) -> None:
    r.xadd("ev:a", {"e": b"1"})
    r.xadd("ev:a", {"e": b"2"})
    ensure_group(r, "ev:a", "warehouse")
    r.xreadgroup("warehouse", "c1", {"ev:a": ">"}, count=1)
    r.xadd("ev:dead", {"reason": "x"})
    publish_heartbeat(r, "c1", {"new": 5})
    ok, body = report(r, LiveState(r, TZ), ["ev:a", "ev:missing"], database=db_ok(create_engine(
        f"sqlite:///{tmp_path}/w.db")), version="t", stream_cap=1)
    assert ok and body["ok"] and body["redis"] == {"ok": True} and body["database"] == {"ok": True}
    a = body["streams"]["ev:a"]
    assert a["length"] == 2 and a["alert"] == "length above the memory-guard cap 1"
    assert a["groups"] == [{"name": "warehouse", "pending": 1, "lag": 1, "consumers": 1}]
    assert "ev:missing" not in body["streams"]
    assert body["dead_letter"] == {"length": 1}
    assert body["workers"]["c1"]["ok"] and body["workers"]["c1"]["new"] == 5


def test_unreachable_dependencies_make_it_unhealthy(tmp_path) -> None:
    dead = connect("redis://127.0.0.1:1/0")
    (tmp_path / "d.db").mkdir()
    ok, body = report(dead, LiveState(dead, TZ), ["ev:a"], database=db_ok(create_engine(
        f"sqlite:///{tmp_path}/d.db")), version="t", stream_cap=10)
    assert not ok and not body["ok"]
    assert body["redis"]["ok"] is False and "ConnectionError" in body["redis"]["error"]
    assert body["database"]["ok"] is False and "unable to open database file" in body["database"]["error"]
