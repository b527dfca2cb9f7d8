"""Security platform (智能安防): alarms from video analytics, the electronic fence, thermal cameras,
the fire panel and door contacts through their life, and camera status.

Schemas: an alarm is raised, acknowledged by an operator, and closed. The three events
carry the alarm's type and severity each time, so open and unacknowledged alarms can be
counted per severity from single events without looking anything up.

Simulator: camera status is polled every 30 minutes per camera, staggered, which is what
a video platform does and also the source's heartbeat (a report every ~8 s across 220
cameras). A few cameras drop offline each day for minutes to hours, across midnight if
need be. Alarms follow who is around (the shared roster): loitering and held-open doors
follow presence, crowding peaks at lunch, intrusions come when the buildings are empty.
Each alarm is acknowledged and closed later (possibly the next day); some clear
themselves without an ack. Anomalies for the alarm rules (a fire alarm, a fence breach
at night, a high body temperature) occur on a day with probability `anomaly_p` each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from datasources.base import Event, SchemaError, SystemSpec
from datasources.simkit import SHANGHAI, Bump, Curve, Day, HourlySimulator, curve, roster, stagger_lists
from datasources.vendorkit import RecordType, VendorFormat, check_range, code, flag
from domain.calendar import HolidayCalendar
from domain.compound import Camera, Compound

# --- event schemas ----------------------------------------------------------------------------------

AlarmType = Literal[
    "intrusion", "loitering", "crowding", "fence_breach", "thermal_high", "fire", "door_forced", "door_held_open",
]
Severity = Literal["low", "medium", "high", "critical"]
Resolution = Literal["resolved", "false_alarm", "auto_cleared"]
CameraKind = Literal["video", "thermal", "fence", "kitchen"]

DOOR_TYPES = ("door_forced", "door_held_open")


class SecurityAlarm(Event, tag="security.alarm", frozen=True, kw_only=True):
    """An alarm from video analytics, the electronic fence, a thermal camera, the fire panel or a door contact."""

    alarm_id: str
    alarm_type: AlarmType
    severity: Severity
    device_id: str
    zone: str
    building_id: str
    floor: int
    snapshot_id: str | None = None
    temperature_c: float | None = None
    people_count: int | None = None
    door_id: str | None = None

    def check(self) -> None:
        check_range("floor", self.floor, -5, 200)
        if self.alarm_type == "thermal_high" and self.temperature_c is None:
            raise SchemaError("a thermal_high alarm needs temperature_c")
        if self.temperature_c is not None:
            check_range("temperature_c", self.temperature_c, -40, 600, "°C")
        if self.alarm_type == "crowding" and (self.people_count is None or self.people_count < 1):
            raise SchemaError("a crowding alarm needs people_count >= 1")
        if self.alarm_type in DOOR_TYPES and not self.door_id:
            raise SchemaError(f"a {self.alarm_type} alarm needs door_id")


class SecurityAlarmAck(Event, tag="security.alarm_ack", frozen=True, kw_only=True):
    """An operator acknowledged an alarm: it stays open but no longer counts as unacknowledged."""

    alarm_id: str
    alarm_type: AlarmType
    severity: Severity
    operator_id: str
    wait_s: float

    def check(self) -> None:
        check_range("wait_s", self.wait_s, 0, 30 * 86400, "s")


class SecurityAlarmClosed(Event, tag="security.alarm_closed", frozen=True, kw_only=True):
    """An alarm closed; `acknowledged` tells whether an ack came first (auto-cleared ones often lack it)."""

    alarm_id: str
    alarm_type: AlarmType
    severity: Severity
    resolution: Resolution
    acknowledged: bool
    duration_s: float
    operator_id: str | None = None

    def check(self) -> None:
        check_range("duration_s", self.duration_s, 0, 30 * 86400, "s")
        if self.resolution != "auto_cleared" and not self.operator_id:
            raise SchemaError(f"a {self.resolution} closure needs operator_id")


class SecurityCameraStatus(Event, tag="security.camera_status", frozen=True, kw_only=True):
    """A camera's periodic status from the video platform; also the system's heartbeat."""

    camera_id: str
    building_id: str
    kind: CameraKind
    online: bool
    bitrate_kbps: float = 0.0

    def check(self) -> None:
        check_range("bitrate_kbps", self.bitrate_kbps, 0, 100_000, "kbps")
        if not self.online and self.bitrate_kbps > 0:
            raise SchemaError("an offline camera cannot report a bitrate")


EVENTS: tuple[type[Event], ...] = (SecurityAlarm, SecurityAlarmAck, SecurityAlarmClosed, SecurityCameraStatus)


# --- simulator ----------------------------------------------------------------------------------

EXPECTED_INTERVAL_S = 120.0
STATUS_PERIOD_S = 1800.0
OUTAGES_PER_DAY = 3.0
OPERATORS = tuple(f"SEC{n:02d}" for n in range(1, 7))
BITRATE_KBPS = {"video": 4096.0, "thermal": 1024.0, "fence": 2048.0, "kitchen": 4096.0}
# (ack wait, time from ack to close) in seconds, by severity
TIMING = {"low": ((60, 900), (120, 1800)), "medium": ((30, 300), (300, 2400)),
          "high": ((20, 120), (600, 3600)), "critical": ((10, 60), (1200, 7200))}
WORKDAY_STAFF_MINUTES_PER_HEAD = 0.92 * 9.5 * 60  # a working day's presence, per head of staff
LUNCH = curve(Bump("12:05", 20, lo="11:15", hi="13:15"))


@dataclass(frozen=True)
class AlarmProfile:
    """How often and where one kind of alarm happens (typical figures for ~3,000 staff)."""

    alarm_type: str
    per_workday: float  # expected count on a working day at rate 1
    curve: str  # presence | lunch | night | flat
    severity: str
    camera_kind: str
    zones: tuple[str, ...] = ()
    false_p: float = 0.3
    auto_p: float = 0.0


PROFILES = (
    AlarmProfile("loitering", 8, "presence", "low", "video", ("大厅", "出入口", "停车场"), false_p=0.5),
    AlarmProfile("crowding", 4, "lunch", "medium", "video", ("大厅", "出入口"), auto_p=0.4),
    AlarmProfile("door_held_open", 15, "presence", "low", "video", ("走廊", "楼梯间", "机房"), auto_p=0.6),
    AlarmProfile("intrusion", 3, "night", "medium", "video", ("机房", "楼梯间", "停车场"), false_p=0.6),
    AlarmProfile("door_forced", 0.5, "presence", "high", "video", ("机房", "出入口"), false_p=0.4),
    AlarmProfile("fence_breach", 1, "flat", "medium", "fence", false_p=0.8),
    AlarmProfile("thermal_high", 1, "presence", "medium", "thermal", false_p=0.2),
    AlarmProfile("fire", 0, "flat", "critical", "video"),
)
BY_TYPE = {p.alarm_type: p for p in PROFILES}


class SecuritySimulator(HourlySimulator):
    """Cameras with offline episodes, and alarms with their life cycle, day after day."""

    system = "security"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, *, seed: int, rate: float = 1.0,
                 tz: ZoneInfo = SHANGHAI, source: str = "sim.security", seq_start: int = 0, anomaly_p: float = 0.1):
        super().__init__(compound, calendar, seed=seed, rate=rate, tz=tz, source=source, seq_start=seq_start,
                         anomaly_p=anomaly_p)
        self.cameras: list[Camera] = list(compound.cameras)
        self.pools = {p.alarm_type: [c for c in self.cameras if c.kind == p.camera_kind
                                     and (not p.zones or c.zone in p.zones)] for p in PROFILES}
        self.offline: dict[int, list[tuple[float, float]]] = {}  # camera index -> [(from, to)] epoch seconds
        self.period = self.device_period(STATUS_PERIOD_S, len(self.cameras), EXPECTED_INTERVAL_S)
        self.reference = len(compound.people) * WORKDAY_STAFF_MINUTES_PER_HEAD
        self.alarm_no = 0

    def start_day(self, day: Day) -> None:
        """Plan the day's camera outages and alarms; status reports come hour by hour."""
        rng = self.rng
        for i, spans in list(self.offline.items()):
            spans[:] = [s for s in spans if s[1] > day.t0]
            if not spans:
                del self.offline[i]
        flat = curve(base=1.0)
        for t in flat.arrivals(rng, OUTAGES_PER_DAY * self.rate, 0, 86400):
            self._outage(day.t0 + t, min(6 * 3600.0, rng.expovariate(1 / 1800) + 120))
        on_site = roster(self.compound, self.calendar, self.seed, day.date).on_site()
        busy = sum(on_site) / self.reference
        peak = max(on_site)
        curves = {
            "presence": (Curve([x + 0.01 for x in on_site]), busy),
            "lunch": (Curve([a * b + 1e-6 for a, b in zip(on_site, LUNCH.share)]), busy),
            "night": (Curve([peak * 1.05 - x for x in on_site]), 1.0),
            "flat": (flat, 1.0),
        }
        self.alarm_no = 0
        for prof in PROFILES:
            shape, factor = curves[prof.curve]
            for t in shape.arrivals(rng, prof.per_workday * factor * self.rate, 0, 86400):
                self._alarm(day, day.t0 + t, prof, prof.severity)
        if self.anomaly():
            self._alarm(day, day.t0 + rng.uniform(0, 86400), BY_TYPE["fire"], "critical")
        if self.anomaly():
            self._alarm(day, day.t0 + rng.uniform(0.5, 4.5) * 3600, BY_TYPE["fence_breach"], "high", false=False)
        if self.anomaly():
            self._alarm(day, day.t0 + rng.uniform(8, 10) * 3600, BY_TYPE["thermal_high"], "high",
                        temperature=rng.uniform(39, 40.5))

    def hour(self, day: Day, t0: float, t1: float) -> None:
        cams, offline, rand = self.cameras, self.offline, self.rng.random
        times, at = stagger_lists(t0, t1, self.period, len(cams))
        rows = []
        for t, i in zip(times, at):
            cam = cams[i]
            spans = offline.get(i)
            online = not (spans and any(a <= t < b for a, b in spans))
            rows.append((cam.id, cam.building_id, cam.kind, online,
                         round(BITRATE_KBPS[cam.kind] * (0.9 + 0.2 * rand()), 1) if online else 0.0))
        self.emit_rows(times, SecurityCameraStatus, rows)

    def _outage(self, start: float, length: float) -> None:
        """A camera drops offline; status changes are reported at once, besides the periodic polls."""
        i = self.rng.randrange(len(self.cameras))
        cam = self.cameras[i]
        self.offline.setdefault(i, []).append((start, start + length))
        base = dict(camera_id=cam.id, building_id=cam.building_id, kind=cam.kind)
        self.emit(start, SecurityCameraStatus, dict(base, online=False, bitrate_kbps=0.0))
        self.emit(start + length, SecurityCameraStatus, dict(base, online=True, bitrate_kbps=BITRATE_KBPS[cam.kind]))

    def _alarm(self, day: Day, t: float, prof: AlarmProfile, severity: str, *, false: bool | None = None,
               temperature: float | None = None) -> None:
        """Raise one alarm and plan its ack and closure."""
        rng = self.rng
        self.alarm_no += 1
        alarm_id = f"AL{day.date:%Y%m%d}{self.alarm_no:05d}"
        cam = rng.choice(self.pools[prof.alarm_type])
        kind = prof.alarm_type
        raised = dict(alarm_id=alarm_id, alarm_type=kind, severity=severity, device_id=cam.id, zone=cam.zone,
                      building_id=cam.building_id, floor=cam.floor, snapshot_id=f"SNAP-{alarm_id}")
        if kind == "fire":
            raised.update(device_id=f"FAS-{cam.building_id}-{cam.floor:02d}", snapshot_id=None)
        elif kind == "thermal_high":
            raised["temperature_c"] = round(temperature or rng.uniform(37.3, 38.5), 1)
        elif kind == "crowding":
            raised["people_count"] = rng.randint(40, 150)
        elif kind in ("door_forced", "door_held_open"):
            raised["door_id"] = f"D-{cam.building_id}-{cam.floor:02d}-{rng.randint(1, 6)}"
        self.emit(t, SecurityAlarm, raised)
        same = dict(alarm_id=alarm_id, alarm_type=kind, severity=severity)
        if rng.random() < prof.auto_p:
            length = rng.uniform(30, 600)
            self.emit(t + length, SecurityAlarmClosed, dict(same, resolution="auto_cleared", acknowledged=False,
                                                            duration_s=round(length, 1)))
            return
        (w0, w1), (c0, c1) = TIMING[severity]
        wait, work = rng.uniform(w0, w1), rng.uniform(c0, c1)
        operator = rng.choice(OPERATORS)
        self.emit(t + wait, SecurityAlarmAck, dict(same, operator_id=operator, wait_s=round(wait, 1)))
        is_false = rng.random() < prof.false_p if false is None else false
        self.emit(t + wait + work, SecurityAlarmClosed, dict(
            same, resolution="false_alarm" if is_false else "resolved", acknowledged=True,
            duration_s=round(wait + work, 1), operator_id=operator))


# --- connectors ----------------------------------------------------------------------------------

# Connectors for the security platform's event export (a video-management platform's alarm centre).
#
# The vendor sends one flat record per event, JSON pushed over HTTP or rows of a CSV export,
# with camelCase fields and local wall-clock times (Asia/Shanghai, no zone):
#
# | vendor field | event field | notes |
# |---|---|---|
# | eventType | (schema) | ALARM, ACK, CLOSE, CAM |
# | eventId | key | the platform's record id; key = make_key(happenTime, hash(eventId)) |
# | happenTime | ts | "2025-03-03 08:15:00" or "2025/03/03 08:15:00", local time |
# | serialNo | seq | the platform's running serial number |
# | alarmId | alarm_id | ALARM, ACK, CLOSE |
# | alarmType | alarm_type | INTRUSION, LOITER, CROWD, FENCE, THERMAL, FIRE, DOOR_FORCED, DOOR_OPEN_TIMEOUT |
# | alarmLevel | severity | 1 low, 2 medium, 3 high, 4 critical |
# | deviceCode, regionName, buildingCode, floorNo | device_id, zone, building_id, floor | ALARM |
# | picUri, temperature, personCount, doorCode | snapshot_id, temperature_c, people_count, door_id | ALARM, optional |
# | operatorCode, waitSeconds | operator_id, wait_s | ACK |
# | handleResult, acked | resolution, acknowledged | CLOSE; RESOLVED, FALSE, AUTO; acked 1/0 |
# | durationSeconds, operatorCode | duration_s, operator_id | CLOSE |
# | deviceCode, buildingCode, deviceKind | camera_id, building_id, kind | CAM; IPC, THERMAL, FENCE, KITCHEN |
# | onlineStatus, bitrate | online, bitrate_kbps | CAM; 1/0 |

ALARM_TYPES = {"INTRUSION": "intrusion", "LOITER": "loitering", "CROWD": "crowding", "FENCE": "fence_breach",
               "THERMAL": "thermal_high", "FIRE": "fire", "DOOR_FORCED": "door_forced",
               "DOOR_OPEN_TIMEOUT": "door_held_open"}
LEVELS = {"1": "low", "2": "medium", "3": "high", "4": "critical"}
RESULTS = {"RESOLVED": "resolved", "FALSE": "false_alarm", "AUTO": "auto_cleared"}
DEVICE_KINDS = {"IPC": "video", "THERMAL": "thermal", "FENCE": "fence", "KITCHEN": "kitchen"}

_ALARM_REF = {"alarm_id": "alarmId", "alarm_type": code("alarmType", ALARM_TYPES),
              "severity": code("alarmLevel", LEVELS)}

FORMAT = VendorFormat(
    system="security", type_field="eventType", id_field="eventId", time_field="happenTime", seq_field="serialNo",
    types={
        "ALARM": RecordType(SecurityAlarm, {
            **_ALARM_REF, "device_id": "deviceCode", "zone": "regionName", "building_id": "buildingCode",
            "floor": "floorNo", "snapshot_id": "picUri", "temperature_c": "temperature", "people_count": "personCount",
            "door_id": "doorCode",
        }),
        "ACK": RecordType(SecurityAlarmAck, {**_ALARM_REF, "operator_id": "operatorCode", "wait_s": "waitSeconds"}),
        "CLOSE": RecordType(SecurityAlarmClosed, {
            **_ALARM_REF, "resolution": code("handleResult", RESULTS), "acknowledged": flag("acked"),
            "duration_s": "durationSeconds", "operator_id": "operatorCode",
        }),
        "CAM": RecordType(SecurityCameraStatus, {
            "camera_id": "deviceCode", "building_id": "buildingCode", "kind": code("deviceKind", DEVICE_KINDS),
            "online": flag("onlineStatus"), "bitrate_kbps": "bitrate",
        }),
    },
)


SPEC = SystemSpec(
    name="security", title_zh="智能安防", title_en="Security", events=EVENTS,
    expected_interval_s=EXPECTED_INTERVAL_S, make_simulator=SecuritySimulator, connectors=FORMAT.connectors(),
)
