"""Lag alarms: measured on a real stream and group, raised once however many workers check, cleared with
hysteresis, every transition logged."""

from __future__ import annotations

import redis

from streams.consumer import ensure_group
from streams.ops_alarms import ACTIVE, LOG, active, behind_s, check_lag, cleared, lag_alarm

S, G = "ev:lagtest", "warehouse"
T0_MS = 1_700_000_000_000


def add(r: redis.Redis, at_ms: int) -> None:
    r.xadd(S, {"e": b"x"}, id=f"{at_ms}-0")


def test_threshold_and_hysteresis_rules() -> None:
    assert lag_alarm(S, G, 59.9, 0.0) is None and lag_alarm(S, G, None, 0.0) is None
    alarm = lag_alarm(S, G, 90.0, 5.0)
    assert alarm is not None and (alarm.id, alarm.value, alarm.since) == ("lag:ev:lagtest:warehouse", 90.0, 5.0)
    assert alarm.zh == "入库延迟：ev:lagtest 最早未入库事件已等待 1.5 分钟"
    on = {alarm.id: alarm}
    assert cleared(on, {alarm.id: 31.0}) == []  # between half and the threshold: stays on
    assert cleared(on, {alarm.id: 29.0}) == [alarm.id]
    assert cleared(on, {alarm.id: None}) == [alarm.id]


def test_behind_is_the_oldest_pending_else_the_first_undelivered_entry(r: redis.Redis) -> None:
    ensure_group(r, S, G)
    assert behind_s(r, S, G, T0_MS) is None  # empty
    for i in range(3):
        add(r, T0_MS + i * 10_000)
    assert behind_s(r, S, G, T0_MS + 60_000) == 60.0  # nothing delivered yet: the first entry
    r.xreadgroup(G, "c1", {S: ">"}, count=1)
    assert behind_s(r, S, G, T0_MS + 60_000) == 60.0  # delivered, not acknowledged
    r.xack(S, G, f"{T0_MS}-0")
    assert behind_s(r, S, G, T0_MS + 60_000) == 50.0  # the next one, still undelivered
    r.xreadgroup(G, "c1", {S: ">"})
    r.xack(S, G, f"{T0_MS + 10_000}-0", f"{T0_MS + 20_000}-0")
    assert behind_s(r, S, G, T0_MS + 60_000) is None
    assert behind_s(r, "ev:none", G, T0_MS) is None


def test_raised_once_by_several_workers_refreshed_then_cleared(r: redis.Redis) -> None:
    ensure_group(r, S, G)
    add(r, T0_MS)
    t = T0_MS / 1000
    assert check_lag(r, [S], G, now=t + 30) == {}
    first = check_lag(r, [S], G, now=t + 61)["lag:ev:lagtest:warehouse"]
    again = check_lag(r, [S], G, now=t + 75)["lag:ev:lagtest:warehouse"]  # a second worker, later
    assert (again.since, again.value) == (first.since, 75.0)
    assert active(r)["lag:ev:lagtest:warehouse"] == again
    assert [f[b"event"] for _, f in r.xrange(LOG)] == [b"raised"]
    r.xreadgroup(G, "c1", {S: ">"})
    r.xack(S, G, f"{T0_MS}-0")
    assert check_lag(r, [S], G, now=t + 80) == {}
    assert r.hlen(ACTIVE) == 0
    assert [f[b"event"] for _, f in r.xrange(LOG)] == [b"raised", b"cleared"]
