"""Alarms about the spine itself: the warehouse falling behind the streams.

When the database is down the producers keep accepting and the walls stay live, so nothing on a screen
shows that history has stopped being written. The duty officer must hear it within 90 s (SECURITY.md):
every worker measures, every few seconds, how long the oldest event its group has not yet committed has
been waiting, and raises an alarm once that passes LAG_ALARM_S; it clears when the backlog is back under
half of that (hysteresis, so a wavering backlog does not flap).

Active alarms live in one Redis hash keyed by a stable id, so several workers raising the same alarm
store it once and keep its first `since`; every raise and clear is appended to a capped log stream that
the alarm console will read. /healthz lists the active ones.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace

import redis

log = logging.getLogger(__name__)

ACTIVE = "ops:alarms"
LOG = "ops:alarm_log"
LOG_CAP = 10_000
LAG_ALARM_S = 60.0


@dataclass(frozen=True)
class OpsAlarm:
    id: str
    kind: str
    severity: str
    subject: str
    zh: str
    en: str
    value: float
    since: float


def lag_alarm(stream: str, group: str, behind_s: float | None, now: float,
              threshold_s: float = LAG_ALARM_S) -> OpsAlarm | None:
    """The alarm a backlog `behind_s` seconds old calls for, or None."""
    if behind_s is None or behind_s < threshold_s:
        return None
    minutes = behind_s / 60
    return OpsAlarm(id=f"lag:{stream}:{group}", kind="warehouse_lag", severity="high", subject=f"{stream}/{group}",
                    zh=f"入库延迟：{stream} 最早未入库事件已等待 {minutes:.1f} 分钟",
                    en=f"warehouse behind: the oldest uncommitted event of {stream} has waited {minutes:.1f} min",
                    value=round(behind_s, 1), since=now)


def cleared(active: Mapping[str, OpsAlarm], behind: Mapping[str, float | None],
            threshold_s: float = LAG_ALARM_S) -> list[str]:
    """Active lag alarms whose backlog is back under half the threshold (or gone)."""
    return [aid for aid in active
            if aid.startswith("lag:") and (behind.get(aid) or 0.0) < threshold_s / 2]


def _ms(entry_id: bytes | str) -> int:
    s = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(s.split("-", 1)[0])


def behind_s(r: redis.Redis, stream: str, group: str, now_ms: int) -> float | None:
    """Age of the oldest entry `group` has not acknowledged: pending first, else the first undelivered."""
    try:
        summary = r.xpending(stream, group)
    except redis.ResponseError:  # no such stream or group yet
        return None
    if summary["pending"]:
        return (now_ms - _ms(summary["min"])) / 1000
    last = next((g["last-delivered-id"] for g in r.xinfo_groups(stream)
                 if (g["name"].decode() if isinstance(g["name"], bytes) else g["name"]) == group), None)
    if last is None:
        return None
    nxt = r.xrange(stream, min=b"(" + (last if isinstance(last, bytes) else last.encode()), count=1)
    return (now_ms - _ms(nxt[0][0])) / 1000 if nxt else None


def active(r: redis.Redis) -> dict[str, OpsAlarm]:
    """The alarms on now, by id."""
    return {(k.decode() if isinstance(k, bytes) else k): OpsAlarm(**json.loads(v))
            for k, v in r.hgetall(ACTIVE).items()}


def check_lag(r: redis.Redis, streams: Iterable[str], group: str, *, now: float | None = None,
              threshold_s: float = LAG_ALARM_S) -> dict[str, OpsAlarm]:
    """Raise and clear the lag alarms of `group` over `streams`; returns the active alarms afterwards."""
    now = time.time() if now is None else now
    behind = {f"lag:{s}:{group}": behind_s(r, s, group, int(now * 1000)) for s in streams}
    current = active(r)
    for s in streams:
        alarm = lag_alarm(s, group, behind[f"lag:{s}:{group}"], now, threshold_s)
        if alarm is None:
            continue
        if alarm.id in current:  # still on: refresh how long, keep when it began
            alarm = replace(alarm, since=current[alarm.id].since)
            r.hset(ACTIVE, alarm.id, json.dumps(asdict(alarm)))
        elif r.hsetnx(ACTIVE, alarm.id, json.dumps(asdict(alarm))):
            log.warning("ALARM raised: %s", alarm.en)
            r.xadd(LOG, {"event": "raised", **_fields(alarm)}, maxlen=LOG_CAP, approximate=True)
        current[alarm.id] = alarm
    for aid in cleared({k: v for k, v in current.items() if k in behind}, behind, threshold_s):
        alarm = current.pop(aid)
        if r.hdel(ACTIVE, aid):
            log.warning("ALARM cleared: %s", alarm.en)
            r.xadd(LOG, {"event": "cleared", **_fields(alarm)}, maxlen=LOG_CAP, approximate=True)
    return current


def _fields(alarm: OpsAlarm) -> dict[str, str]:
    return {k: str(v) for k, v in asdict(alarm).items()}
