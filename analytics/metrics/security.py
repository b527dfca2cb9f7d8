"""Live metrics of the security screen: alarms today by type and severity, open and unacknowledged
alarms, thermal readings and camera availability.

Open alarms are a Level per severity (+1 raised, -1 closed) and unacknowledged ones a
single Level (+1 raised, -1 at the ack, or at the close when no ack came), which works
because every life-cycle event repeats the alarm's type and severity.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterator

from analytics.deltas import Contribution, Last, Level, Sum, declare, extractor

ALARM_TYPES = {
    "intrusion": ("入侵", "intrusion"), "loitering": ("徘徊", "loitering"), "crowding": ("人员聚集", "crowding"),
    "fence_breach": ("电子围栏越界", "fence breach"), "thermal_high": ("热成像高温", "thermal high temperature"),
    "fire": ("火警", "fire"), "door_forced": ("门被强行打开", "door forced"),
    "door_held_open": ("门长时间未关", "door held open"),
}
SEVERITIES = {"low": ("低", "low"), "medium": ("中", "medium"), "high": ("高", "high"),
              "critical": ("紧急", "critical")}

ALARMS = declare("security.alarms", "sum", "告警数", "alarms", "起")
CLOSED = declare("security.alarms_closed", "sum", "已处置告警", "alarms closed", "起")
UNACKED = declare("security.unacked", "level", "未确认告警", "unacknowledged alarms", "起")
THERMAL_C = declare("security.thermal_c", "last", "热成像最高温度", "thermal reading", "°C")
CAMERA_ONLINE = declare("security.camera_online", "last", "摄像机在线", "camera online", "")
BY_TYPE = {k: declare(f"security.alarms.type.{k}", "sum", f"{zh}告警", f"{en} alarms", "起")
           for k, (zh, en) in ALARM_TYPES.items()}
BY_SEVERITY = {k: declare(f"security.alarms.severity.{k}", "sum", f"{zh}级告警", f"{en} severity alarms", "起")
               for k, (zh, en) in SEVERITIES.items()}
OPEN = {k: declare(f"security.open.{k}", "level", f"未关闭{zh}级告警", f"open {en} severity alarms", "起")
        for k, (zh, en) in SEVERITIES.items()}


@extractor("security.alarm")
def alarm(ev: Any) -> Iterator[Contribution]:
    yield Sum(ALARMS)
    yield Sum(BY_TYPE[ev.alarm_type])
    yield Sum(BY_SEVERITY[ev.severity])
    yield Level(OPEN[ev.severity], 1)
    yield Level(UNACKED, 1)
    if ev.temperature_c is not None:
        yield Last(THERMAL_C, ev.device_id, ev.temperature_c)


@extractor("security.alarm_ack")
def alarm_ack(ev: Any) -> Iterator[Contribution]:
    yield Level(UNACKED, -1)


@extractor("security.alarm_closed")
def alarm_closed(ev: Any) -> Iterator[Contribution]:
    yield Sum(CLOSED)
    yield Level(OPEN[ev.severity], -1)
    if not ev.acknowledged:
        yield Level(UNACKED, -1)


@extractor("security.camera_status")
def camera_status(ev: Any) -> Iterator[Contribution]:
    yield Last(CAMERA_ONLINE, ev.camera_id, 1 if ev.online else 0)
