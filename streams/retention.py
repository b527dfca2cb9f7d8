"""Stream retention that never drops an entry a consumer group still needs.

`MAXLEN ~` deletes unread or unacknowledged entries when a consumer lags (a database outage
is enough), so streams are trimmed with MINID below the oldest entry any group still has
pending or undelivered, and never newer than a replay window that reconnecting pages use.
A length above the cap only raises an alert; nothing is trimmed for it.
"""

from __future__ import annotations

import logging
import time

import redis

log = logging.getLogger(__name__)


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _s(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


def safe_minid(r: redis.Redis, stream: str, *, keep_ms: int, now_ms: int | None = None) -> str | None:
    """The lowest id still needed by any group, capped by the replay window; None: trim nothing."""
    groups = r.xinfo_groups(stream)
    if not groups:
        return None
    needed: list[str] = []
    for g in groups:
        name = _s(g["name"])
        pending = r.xpending(stream, name)
        if pending["pending"]:
            needed.append(_s(pending["min"]))
        else:
            needed.append(_s(g["last-delivered-id"]))
    lowest = min(needed, key=_id_key)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    window = f"{max(now_ms - keep_ms, 0)}-0"
    return min(lowest, window, key=_id_key)


def trim(r: redis.Redis, stream: str, *, keep_ms: int = 600_000, cap: int = 5_000_000) -> tuple[int, bool]:
    """Trim one stream; returns (entries removed, over the memory-guard cap)."""
    minid = safe_minid(r, stream, keep_ms=keep_ms)
    removed = r.xtrim(stream, minid=minid, approximate=False) if minid else 0
    over = r.xlen(stream) > cap
    if over:
        log.error("stream %s holds more than %d entries: consumers are not keeping up", stream, cap)
    return int(removed), over
