"""Building automation: schemas, simulator, connectors and live-metric extractors."""

from __future__ import annotations

import datetime as dt
import typing

import pytest

from analytics.deltas import Last, Level, Sum
from analytics.metrics import ba as metrics
from datasources.ba import SPEC
from datasources.ba import BaFault, BaFirePoint, BaHvac, BaLift, BaLighting, BaPower, Subsystem
from datasources.base import SchemaError
from tests.datasources.sim_checks import (
    HOLIDAY,
    MAKEUP,
    WORKDAY,
    Decoder,
    assert_connectors_agree,
    assert_round_trip,
    connector_error,
    count,
    json_samples,
    local_start,
    run,
)

HVAC = {"point_id": "B01-AHU-F03", "building_id": "B01", "floor": 3, "on": True, "mode": "cool",
        "supply_temp_c": 13.5, "return_temp_c": 25.0, "setpoint_c": 26.0, "fan_pct": 60.0}
POWER = {"point_id": "B01-PD-MAIN", "building_id": "B01", "load_kw": 500.0, "voltage_v": 380.0, "current_a": 800.0}
LIGHT = {"circuit_id": "B01-LT-F03-1", "building_id": "B01", "floor": 3, "on": True, "level_pct": 100.0,
         "power_kw": 6.5}
LIFT = {"lift_id": "B01-EL-1", "building_id": "B01", "status": "running", "floor": 5, "direction": "up", "trips": 3}
FIRE = {"point_id": "B01-SP-1", "building_id": "B01", "floor": -1, "device": "sprinkler", "status": "normal",
        "pressure_mpa": 0.4}
FAULT = {"fault_id": "F1", "point_id": "B01-EL-1", "building_id": "B01", "subsystem": "lift", "fault_code": "EL-E402",
         "severity": "major", "state": "raised"}
CASES = {BaHvac: HVAC, BaPower: POWER, BaLighting: LIGHT, BaLift: LIFT, BaFirePoint: FIRE, BaFault: FAULT}
decode = Decoder("2025-03-04T09:00:00+08:00", CASES)


@pytest.mark.parametrize("cls", list(CASES))
def test_valid_examples_decode(cls: type) -> None:
    ev = decode(cls)
    assert ev.schema_name().startswith("ba.") and ev.ts.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.parametrize(("cls", "change", "message"), [
    (BaHvac, {"supply_temp_c": 95.0}, "supply_temp_c 95.0 °C is outside -10..70"),
    (BaHvac, {"return_temp_c": -3.0}, "return_temp_c -3.0 °C is outside 0..45"),
    (BaHvac, {"mode": "dry"}, "Invalid enum value 'dry' - at `$.mode`"),
    (BaHvac, {"on": False}, "a unit that is off cannot run its fan (fan_pct must be 0)"),
    (BaPower, {"voltage_v": 10000.0}, "voltage_v 10000.0 V is outside 0..480"),
    (BaPower, {"power_factor": 1.2}, "power_factor 1.2 is outside 0..1"),
    (BaLighting, {"on": False}, "a circuit that is off must report level_pct 0"),
    (BaLift, {"trips": -1}, "trips -1 is outside 0..10000"),
    (BaLift, {"direction": "sideways"}, "Invalid enum value 'sideways' - at `$.direction`"),
    (BaFirePoint, {"pressure_mpa": 5.0}, "pressure_mpa 5.0 MPa is outside 0..3"),
    (BaFault, {"fault_code": " "}, "fault_code must not be empty"),
    (BaFault, {"state": "open"}, "Invalid enum value 'open' - at `$.state`"),
])
def test_invalid_examples_explain_themselves(cls: type, change: dict, message: str) -> None:
    assert decode.error(cls, **change) == message


def test_volume_and_round_trip() -> None:
    events = run(SPEC, WORKDAY, anomaly_p=1.0)
    assert 15_000 <= len(events) <= 30_000
    assert_round_trip(events, SPEC)


def on_share(events: list, hour_utc: int) -> float:
    hv = [e for e in events if isinstance(e, BaHvac) and e.ts.hour == hour_utc]
    return sum(e.on for e in hv) / len(hv)


def test_rhythm_working_day_against_holiday_and_night() -> None:
    work, holiday, makeup = run(SPEC, WORKDAY), run(SPEC, HOLIDAY), run(SPEC, MAKEUP)
    assert on_share(work, 2) > 0.95  # 10:00 Beijing time
    assert on_share(work, 18) == 0  # 02:00 at night
    assert on_share(holiday, 2) < 0.2
    assert on_share(makeup, 2) > 0.95

    def load(events: list, hour_utc: int) -> float:
        return sum(e.load_kw for e in events if isinstance(e, BaPower) and e.ts.hour == hour_utc)

    assert load(work, 2) > 2 * load(work, 18) > 0  # day vs night base load
    assert load(holiday, 2) < load(work, 2) / 1.5
    trips = lambda ev: sum(e.trips for e in ev if isinstance(e, BaLift))  # noqa: E731
    assert trips(work) > 5 * trips(holiday)
    assert count(work)["ba.lighting"] > count(holiday)["ba.lighting"]


def test_rate_multiplies_events() -> None:
    base, fast = run(SPEC, WORKDAY), run(SPEC, WORKDAY, rate=10)
    assert 8 <= len(fast) / len(base) <= 11


def test_anomalies_appear_when_forced() -> None:
    events = run(SPEC, WORKDAY, anomaly_p=1.0)
    assert any(isinstance(e, BaFirePoint) and e.status == "alarm" and e.device == "smoke_detector" for e in events)
    outage = [e for e in events if isinstance(e, BaFault) and e.severity == "critical"]
    assert [e.state for e in outage] == ["raised", "cleared"]
    assert any(isinstance(e, BaPower) and e.voltage_v == 0 and outage[0].ts <= e.ts < outage[1].ts for e in events)
    quiet = run(SPEC, WORKDAY, anomaly_p=0.0)
    assert not any(isinstance(e, BaFirePoint) and e.status == "alarm" for e in quiet)


def test_faults_are_cleared_later() -> None:
    events = run(SPEC, WORKDAY, days=2)
    end_of_first = local_start(WORKDAY) + dt.timedelta(days=1)
    raised = {e.fault_id for e in events if isinstance(e, BaFault) and e.state == "raised" and e.ts < end_of_first}
    cleared = {e.fault_id for e in events if isinstance(e, BaFault) and e.state == "cleared"}
    assert raised and raised <= cleared


def test_connectors_map_vendor_records() -> None:
    hvac, off, power, light, lift, fire, fault = assert_connectors_agree(SPEC)
    assert (hvac.on, hvac.mode, hvac.supply_temp_c, hvac.seq) == (True, "heat", 35.8, 884213)
    assert hvac.ts == dt.datetime(2025, 3, 4, 0, 15, tzinfo=dt.UTC)
    assert not off.on and off.fan_pct == 0
    assert power.voltage_v == 381.2 and power.power_factor == 0.91
    assert light.trigger == "schedule" and lift.status == "running" and lift.direction == "up" and lift.trips == 14
    assert fire.device == "sprinkler" and fire.status == "normal"
    assert (fault.subsystem, fault.severity, fault.state) == ("lift", "major", "raised")


@pytest.mark.parametrize(("change", "message"), [
    ({"SupplyT": 120}, "ba record 884213: supply_temp_c 120.0 °C is outside -10..70"),
    ({"Mode": "DRY"}, "ba record 884213: field 'Mode': unknown code 'DRY', expected one of COOL, HEAT, VENT"),
    ({"RunState": "maybe"}, "ba record 884213: field 'RunState': 'maybe' is not a yes/no value "
                            "(1/0, true/false, 是/否)"),
    ({"SerialNo": "x"}, "ba record 884213: field 'SerialNo': 'x' is not a serial number"),
    ({"SupplyT": "hot"}, "ba record 884213: Expected `float`, got `str` - at `$.supply_temp_c` (vendor field SupplyT)"),
])
def test_connector_errors(change: dict, message: str) -> None:
    assert connector_error(SPEC, "json", 0, change) == message


def test_csv_strings_are_converted_and_bad_numbers_rejected() -> None:
    row = {k: str(v) for k, v in json_samples("ba")[0].items()}
    assert SPEC.connectors["csv"](row).supply_temp_c == 35.8
    with pytest.raises(SchemaError, match="Expected `float`, got `str` - at `\\$.supply_temp_c`"):
        SPEC.connectors["csv"](row | {"SupplyT": "hot"})


def test_metric_vocabulary_matches_schema() -> None:
    assert set(metrics.SUBSYSTEMS) == set(typing.get_args(Subsystem))


def test_extractors() -> None:
    assert list(metrics.hvac(decode(BaHvac))) == [Last("ba.hvac_on", "B01-AHU-F03", 1),
                                                  Last("ba.supply_temp_c", "B01-AHU-F03", 13.5)]
    assert list(metrics.power(decode(BaPower))) == [Last("ba.load_kw", "B01", 500.0),
                                                    Last("ba.voltage_v", "B01", 380.0)]
    assert list(metrics.lift(decode(BaLift))) == [Sum("ba.lift_trips", 3), Last("ba.lift_fault", "B01-EL-1", 0)]
    assert list(metrics.lighting(decode(BaLighting))) == [Last("ba.lighting_on", "B01-LT-F03-1", 1)]
    assert list(metrics.fire_point(decode(BaFirePoint, status="alarm"))) == [Last("ba.fire_abnormal", "B01-SP-1", 1)]
    assert list(metrics.fault(decode(BaFault))) == [Sum("ba.faults"), Sum("ba.faults.lift"), Level("ba.faults_open", 1)]
    assert list(metrics.fault(decode(BaFault, state="cleared"))) == [Level("ba.faults_open", -1)]
