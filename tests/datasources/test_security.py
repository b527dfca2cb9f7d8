"""Security platform: schemas, simulator, connectors and live-metric extractors."""

from __future__ import annotations

import datetime as dt
import typing

import msgspec
import pytest

from analytics.deltas import Last, Level, Sum, fold
from analytics.metrics import security as metrics
from datasources.security import SPEC
from datasources.security import (
    AlarmType,
    SecurityAlarm,
    SecurityAlarmAck,
    SecurityAlarmClosed,
    SecurityCameraStatus,
    Severity,
)
from tests.datasources.sim_checks import (
    HOLIDAY,
    TZ,
    WORKDAY,
    Decoder,
    assert_connectors_agree,
    assert_round_trip,
    connector_error,
    count,
    load_ratios,
    local_start,
    run,
)

ALARM = {"alarm_id": "A1", "alarm_type": "intrusion", "severity": "medium", "device_id": "C-B01-01", "zone": "机房",
         "building_id": "B01", "floor": 3}
ACK = {"alarm_id": "A1", "alarm_type": "fire", "severity": "critical", "operator_id": "SEC01", "wait_s": -1}
CLOSED = {"alarm_id": "A1", "alarm_type": "fire", "severity": "critical", "resolution": "resolved",
          "acknowledged": True, "duration_s": 60}
CAMERA = {"camera_id": "C1", "building_id": "B01", "kind": "video", "online": False, "bitrate_kbps": 100}
decode = Decoder("2025-03-04T09:00:00+08:00", {SecurityAlarm: ALARM, SecurityAlarmAck: ACK,
                                               SecurityAlarmClosed: CLOSED, SecurityCameraStatus: CAMERA})


def test_alarm_decodes() -> None:
    ev = decode(SecurityAlarm, alarm_type="thermal_high", severity="high", temperature_c=39.2)
    assert ev.schema_name() == "security.alarm" and ev.temperature_c == 39.2 and ev.system == "security"


@pytest.mark.parametrize(("fields", "message"), [
    ({"alarm_type": "smoke"}, "Invalid enum value 'smoke' - at `$.alarm_type`"),
    ({"severity": "urgent"}, "Invalid enum value 'urgent' - at `$.severity`"),
    ({"alarm_type": "thermal_high"}, "a thermal_high alarm needs temperature_c"),
    ({"alarm_type": "thermal_high", "temperature_c": 900.0}, "temperature_c 900.0 °C is outside -40..600"),
    ({"alarm_type": "crowding"}, "a crowding alarm needs people_count >= 1"),
    ({"alarm_type": "door_forced"}, "a door_forced alarm needs door_id"),
    ({"floor": 300}, "floor 300 is outside -5..200"),
    ({"floor": "3"}, "Expected `int`, got `str` - at `$.floor`"),
])
def test_alarm_rejects(fields: dict, message: str) -> None:
    assert decode.error(SecurityAlarm, **fields) == message


def test_ack_closed_and_camera_rules() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"wait_s -1.0 s is outside 0..2592000"):
        decode(SecurityAlarmAck)
    with pytest.raises(msgspec.ValidationError, match="a resolved closure needs operator_id"):
        decode(SecurityAlarmClosed)
    assert decode(SecurityAlarmClosed, resolution="auto_cleared").operator_id is None
    with pytest.raises(msgspec.ValidationError, match="an offline camera cannot report a bitrate"):
        decode(SecurityCameraStatus)


def test_round_trip_and_working_day_rhythm() -> None:
    work, off = run(SPEC, WORKDAY, days=2, anomaly_p=1.0), run(SPEC, HOLIDAY, days=2)
    assert_round_trip(work, SPEC)
    n_work, n_off = count(work)["security.alarm"], count(off)["security.alarm"]
    assert 30 <= n_work <= 130 and n_off < n_work / 2
    assert 9000 <= len(work) / 2 <= 15000


def test_alarms_close_and_open_counts_return_to_zero() -> None:
    events = run(SPEC, WORKDAY, days=2)
    day_two = local_start(WORKDAY) + dt.timedelta(days=1)
    raised = {e.alarm_id for e in events if isinstance(e, SecurityAlarm) and e.ts < day_two}
    closed = {e.alarm_id for e in events if isinstance(e, SecurityAlarmClosed)}
    assert raised and raised <= closed
    for e in events:
        if isinstance(e, SecurityAlarmAck):
            assert e.wait_s >= 0


def test_rate_multiplies_events() -> None:
    alarms, events = load_ratios(SPEC, 20, "security.alarm")
    assert 14 <= alarms <= 28 and 15 <= events <= 25


def test_anomalies_appear_when_forced() -> None:
    events = [e for e in run(SPEC, WORKDAY, anomaly_p=1.0) if isinstance(e, SecurityAlarm)]
    assert any(e.alarm_type == "fire" and e.severity == "critical" for e in events)
    assert any(e.alarm_type == "fence_breach" and e.severity == "high" and e.ts.hour in range(16, 21)
               for e in events)  # 00:30-04:30 Beijing time is 16:30-20:30 UTC
    assert any(e.alarm_type == "thermal_high" and e.temperature_c >= 39 for e in events)
    assert not any(e.alarm_type == "fire" for e in run(SPEC, WORKDAY, anomaly_p=0.0) if isinstance(e, SecurityAlarm))


def test_connectors_map_vendor_records() -> None:
    thermal, door, ack, closed, auto, cam_on, cam_off = assert_connectors_agree(SPEC)
    assert (thermal.alarm_type, thermal.severity, thermal.temperature_c) == ("thermal_high", "high", 39.2)
    assert thermal.ts.isoformat() == "2025-03-04T01:12:05+00:00" and thermal.seq == 880101
    assert door.alarm_type == "door_held_open" and door.door_id == "D-B05-07-2"
    assert ack.wait_s == 56.0 and closed.acknowledged and closed.resolution == "resolved"
    assert auto.resolution == "auto_cleared" and not auto.acknowledged and auto.operator_id is None
    assert cam_on.online and cam_on.kind == "video" and not cam_off.online and cam_off.kind == "fence"


@pytest.mark.parametrize(("change", "message"), [
    ({"alarmType": "SMOKE"}, "security record EV20250304000101: field 'alarmType': unknown code 'SMOKE', expected one "
                             "of INTRUSION, LOITER, CROWD, FENCE, THERMAL, FIRE, DOOR_FORCED, DOOR_OPEN_TIMEOUT"),
    ({"temperature": None}, "security record EV20250304000101: a thermal_high alarm needs temperature_c"),
    ({"happenTime": "yesterday"}, "security record EV20250304000101: time 'yesterday' is not a date-time like "
                                  "'2025-03-03 08:15:00'"),
    ({"eventType": "PING"}, "security record EV20250304000101: unknown record type 'PING', expected one of ALARM, "
                            "ACK, CLOSE, CAM"),
    ({"floorNo": "three"}, "security record EV20250304000101: Expected `int`, got `str` - at `$.floor` "
                           "(vendor field floorNo)"),
    ({"deviceCode": None}, "security record EV20250304000101: Object missing required field `device_id` "
                           "(vendor field deviceCode)"),
])
def test_connector_errors_name_record_and_field(change: dict, message: str) -> None:
    assert connector_error(SPEC, "json", 0, change) == message


def test_metric_vocabularies_match_schemas() -> None:
    assert set(metrics.ALARM_TYPES) == set(typing.get_args(AlarmType))
    assert set(metrics.SEVERITIES) == set(typing.get_args(Severity))


def test_extractors() -> None:
    raised = decode(SecurityAlarm, alarm_type="thermal_high", severity="high", temperature_c=39.2)
    assert list(metrics.alarm(raised)) == [
        Sum("security.alarms"), Sum("security.alarms.type.thermal_high"), Sum("security.alarms.severity.high"),
        Level("security.open.high", 1), Level("security.unacked", 1), Last("security.thermal_c", "C-B01-01", 39.2)]
    ack = SecurityAlarmAck(source="t", ts=raised.ts, key="k", seq=2, alarm_id="A1", alarm_type="thermal_high",
                           severity="high", operator_id="SEC01", wait_s=30.0)
    assert list(metrics.alarm_ack(ack)) == [Level("security.unacked", -1)]
    closed = SecurityAlarmClosed(source="t", ts=raised.ts, key="k", seq=3, alarm_id="A1", alarm_type="thermal_high",
                                 severity="high", resolution="auto_cleared", acknowledged=False, duration_s=60.0)
    assert list(metrics.alarm_closed(closed)) == [
        Sum("security.alarms_closed"), Level("security.open.high", -1), Level("security.unacked", -1)]
    cam = SecurityCameraStatus(source="t", ts=raised.ts, key="k", seq=4, camera_id="C1", building_id="B01",
                               kind="video", online=False)
    assert list(metrics.camera_status(cam)) == [Last("security.camera_online", "C1", 0)]


def test_a_simulated_day_leaves_no_negative_open_counts() -> None:
    deltas = fold(run(SPEC, WORKDAY, days=2), TZ)
    assert all(v >= 0 for v in deltas.levels.values())
    assert deltas.sums
