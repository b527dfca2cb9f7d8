"""Retention trims by MINID and never drops an entry a group still needs."""

from __future__ import annotations

import redis

from streams.consumer import ensure_group
from streams.retention import safe_minid, trim


def test_trim_keeps_pending_and_undelivered_entries(r: redis.Redis) -> None:
    ids = [r.xadd("ev:t", {"e": str(i)}, id=f"{1000 + i}-0") for i in range(10)]
    ensure_group(r, "ev:t", "fast")
    ensure_group(r, "ev:t", "slow")
    got = r.xreadgroup("fast", "c", {"ev:t": ">"}, count=10)[0][1]
    r.xack("ev:t", "fast", *[i for i, _ in got])
    got = r.xreadgroup("slow", "c", {"ev:t": ">"}, count=6)[0][1]
    r.xack("ev:t", "slow", *[i for i, _ in got[:3]])  # slow: 3 acked, 3 pending, 4 undelivered
    assert safe_minid(r, "ev:t", keep_ms=0, now_ms=10**13) == ids[3].decode()
    removed, over = trim(r, "ev:t", keep_ms=0, cap=100)
    assert (removed, over) == (3, False)
    assert [i for i, _ in r.xrange("ev:t")] == ids[3:]


def test_replay_window_and_memory_guard(r: redis.Redis) -> None:
    for i in range(5):
        r.xadd("ev:t", {"e": str(i)}, id=f"{1000 + i}-0")
    ensure_group(r, "ev:t", "g")
    got = r.xreadgroup("g", "c", {"ev:t": ">"}, count=5)[0][1]
    r.xack("ev:t", "g", *[i for i, _ in got])
    assert safe_minid(r, "ev:t", keep_ms=2, now_ms=1004) == "1002-0"  # newer than the window stays
    removed, over = trim(r, "ev:t", keep_ms=10**13, cap=3)
    assert removed == 0 and over  # above the cap: alert only, nothing trimmed
    r.delete("ev:none")
    r.xadd("ev:none", {"e": "1"})
    assert safe_minid(r, "ev:none", keep_ms=0) is None  # no group yet: never trim
