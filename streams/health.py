"""What /healthz reports about the spine: Redis, streams, groups, dead letters, gaps, workers.

Workers publish a heartbeat hash with their counters; a worker silent for longer than
HEARTBEAT_STALE_S is reported as down. Any dependency down makes the report unhealthy
(HTTP 503), so a load balancer or the wall's banner can act on it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis

from streams.codec import DEAD_LETTER
from streams.live_state import LiveState
from streams.ops_alarms import active as active_alarms

HEARTBEAT_STALE_S = 15.0
HEARTBEATS = "health:workers"


def publish_heartbeat(r: redis.Redis, name: str, stats: Mapping[str, Any]) -> None:
    """A worker's counters and time, read by every web process's /healthz."""
    r.hset(HEARTBEATS, name, json.dumps({"at": time.time(), **stats}, default=str))


def _id_ms(entry_id: bytes | str | None) -> int | None:
    if not entry_id:
        return None
    s = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(s.split("-", 1)[0])


def stream_report(r: redis.Redis, stream: str, now_ms: int) -> dict[str, Any]:
    info = r.xinfo_stream(stream)
    last_ms = _id_ms(info.get("last-generated-id"))
    groups = []
    for g in r.xinfo_groups(stream):
        groups.append({
            "name": g["name"].decode() if isinstance(g["name"], bytes) else g["name"],
            "pending": int(g["pending"]),
            "lag": None if g.get("lag") is None else int(g["lag"]),
            "consumers": int(g["consumers"]),
        })
    return {
        "length": int(info["length"]),
        "last_entry_age_s": None if not last_ms or info["length"] == 0 else round((now_ms - last_ms) / 1000, 1),
        "groups": groups,
    }


def report(r: redis.Redis, live: LiveState, streams: Iterable[str], *, database: Callable[[], None],
           version: str, stream_cap: int) -> tuple[bool, dict[str, Any]]:
    """(healthy, report). `database` raises when the warehouse cannot answer."""
    out: dict[str, Any] = {"version": version, "time": time.time()}
    healthy = True
    try:
        database()
        out["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - any failure to answer means the dependency is down
        healthy = False
        out["database"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    try:
        r.ping()
        now_ms = int(time.time() * 1000)
        out["redis"] = {"ok": True}
        out["streams"] = {}
        for s in streams:
            if r.exists(s):
                out["streams"][s] = rep = stream_report(r, s, now_ms)
                if rep["length"] > stream_cap:
                    rep["alert"] = f"length above the memory-guard cap {stream_cap}"
        out["dead_letter"] = {"length": int(r.xlen(DEAD_LETTER))}
        out["sequence_gaps"] = {k: v for k, v in live.seq_gaps().items() if v}
        workers = {}
        for name, raw in r.hgetall(HEARTBEATS).items():
            beat = json.loads(raw)
            age = time.time() - beat["at"]
            workers[name.decode()] = {"ok": age < HEARTBEAT_STALE_S, "age_s": round(age, 1),
                                      **{k: v for k, v in beat.items() if k != "at"}}
        out["workers"] = workers
        out["alarms"] = [asdict(a) for a in sorted(active_alarms(r).values(), key=lambda a: a.since)]
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        healthy = False
        out["redis"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    out["ok"] = healthy
    return healthy, out
