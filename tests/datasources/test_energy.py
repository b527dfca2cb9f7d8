"""Smart energy: schema, simulator, connectors and live-metric extractors."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from analytics.deltas import Last, Sum, fold
from analytics.metrics import energy as metrics
from datasources.energy import SPEC
from datasources.energy.schemas import EnergyReading
from tests.datasources.sim_checks import (
    HOLIDAY,
    TZ,
    WORKDAY,
    Decoder,
    assert_connectors_agree,
    assert_round_trip,
    compound,
    connector_error,
    count,
    run,
)

READING = {"meter_id": "M-B01-F03-E", "building_id": "B01", "floor": 3, "kind": "electricity", "unit": "kWh",
           "reading": 123456.78, "delta": 12.34}
decode = Decoder("2025-03-04T08:15:00+08:00", {EnergyReading: READING})


def by_hour(events: list[EnergyReading], kind: str) -> list[float]:
    hours = [0.0] * 24
    for e in events:
        if e.kind == kind:
            hours[e.ts.astimezone(TZ).hour] += e.delta
    return hours


def test_valid_reading_decodes() -> None:
    ev = decode(EnergyReading)
    assert (ev.interval_s, ev.unit, ev.system) == (900, "kWh", "energy")
    assert decode(EnergyReading, kind="water", unit="m3", meter_id="M-B01-F03-W").unit == "m3"


@pytest.mark.parametrize(("changes", "message"), [
    ({"unit": "m3"}, "electricity is metered in kWh, not m3"),
    ({"kind": "gas"}, "gas is metered in m3, not kWh"),
    ({"kind": "steam"}, "Invalid enum value 'steam' - at `$.kind`"),
    ({"delta": -0.5}, "delta -0.5 kWh is outside 0..1000000"),
    ({"delta": 200000.0}, "delta 200000.0 cannot exceed the register reading 123456.78"),
    ({"reading": -1.0, "delta": 0.0}, "reading -1.0 kWh is outside 0..10000000000"),
    ({"interval_s": 0}, "interval_s 0 s is outside 1..2678400"),
    ({"floor": 250}, "floor 250 is outside -5..200"),
    ({"reading": "NaN"}, "Expected `float`, got `str` - at `$.reading`"),
])
def test_invalid_readings_are_rejected(changes: dict, message: str) -> None:
    assert decode.error(EnergyReading, **changes) == message


def test_round_trip_and_volume() -> None:
    events = run(SPEC, WORKDAY)
    assert_round_trip(events, SPEC)
    assert len(events) == len(compound().meters) * 96  # every meter, every quarter hour


def test_registers_carry_across_days() -> None:
    last: dict[str, EnergyReading] = {}
    for e in run(SPEC, WORKDAY, days=2):
        prev = last.get(e.meter_id)
        if prev is not None:
            assert e.reading == pytest.approx(prev.reading + e.delta, abs=0.002)
            assert e.interval_s == 900
        last[e.meter_id] = e
    assert len(last) == len(compound().meters)


def test_rhythm_follows_occupancy_season_and_sun() -> None:
    work = [e for e in run(SPEC, WORKDAY) if isinstance(e, EnergyReading)]
    power = by_hour(work, "electricity")
    night, day = sum(power[1:5]) / 4, sum(power[10:16]) / 6
    assert day > 4 * night and max(power[1:5]) < 1.05 * min(power[1:5])  # flat base load at night
    holiday = by_hour(run(SPEC, HOLIDAY), "electricity")
    assert sum(holiday) < 0.5 * sum(power)
    solar = by_hour(work, "solar")
    assert solar[2] == 0 and solar[22] == 0 and solar[12] > 0
    buildings = compound().buildings
    quota_per_day = sum(b.area_m2 * b.quota_kwh_m2_year for b in buildings) / 365
    assert 0.9 * quota_per_day < sum(power) < 1.4 * quota_per_day  # a working day in March, above the yearly mean
    water, gas = by_hour(work, "water"), by_hour(work, "gas")
    assert sum(water[9:17]) > 3 * sum(water[0:8]) and gas.index(max(gas)) in (10, 11)


def test_rate_reads_meters_more_often_without_using_more() -> None:
    one, four = run(SPEC, WORKDAY), run(SPEC, WORKDAY, rate=4)
    assert count(four)["energy.reading"] == 4 * count(one)["energy.reading"]
    assert {e.interval_s for e in four} == {225}
    a, b = sum(by_hour(one, "electricity")), sum(by_hour(four, "electricity"))
    assert abs(a - b) < 0.01 * a


def test_forced_anomalies_appear() -> None:
    events = run(SPEC, WORKDAY, anomaly_p=1.0)
    quiet = run(SPEC, WORKDAY, anomaly_p=0.0)
    assert any(e.interval_s > 900 for e in events) and all(e.interval_s == 900 for e in quiet)
    assert len(events) < len(quiet)  # silent meters skip readings

    def night(evs: list[EnergyReading], kind: str) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for e in evs:
            if e.kind == kind and (e.ts.astimezone(TZ).hour < 5 or e.ts.astimezone(TZ).hour >= 21):
                out[e.meter_id] += e.delta / max(1, e.interval_s)
        return out

    spiked, normal = night(events, "electricity"), night(quiet, "electricity")
    assert sum(1 for m in normal if spiked[m] > 1.5 * normal[m]) >= 5
    leaking, dry = night(events, "water"), night(quiet, "water")
    assert sum(1 for m in dry if leaking[m] > 3 * dry[m]) >= 5


def test_connectors_map_json_and_csv_alike() -> None:
    events = assert_connectors_agree(SPEC)
    assert [e.kind for e in events] == ["electricity", "water", "gas", "solar"]
    assert [e.unit for e in events] == ["kWh", "m3", "m3", "kWh"]
    assert events[0].ts == dt.datetime(2025, 3, 4, 8, 15, tzinfo=TZ) and events[0].seq == 300001
    assert events[1].interval_s == 900 and events[3].interval_s == 3600


@pytest.mark.parametrize(("fmt", "changes", "message"), [
    ("json", {"nhlx": "09000"}, "energy record NH202503040815000001: field 'nhlx': unknown code '09000', expected one "
                                "of 01000, 02000, 03000, 05000"),
    ("json", {"dw": "m3"}, "energy record NH202503040815000001: electricity is metered in kWh, not m3"),
    ("json", {"zl": -1}, "energy record NH202503040815000001: delta -1.0 kWh is outside 0..1000000"),
    ("csv", {"ds": "12,345"}, "energy record NH202503040815000001: Expected `float`, got `str` - at `$.reading` "
                              "(vendor field ds)"),
    ("csv", {"jg": "0"}, "energy record NH202503040815000001: interval_s 0 s is outside 1..2678400"),
    ("json", {"bjbh": ""}, "energy record NH202503040815000001: Object missing required field `meter_id` "
                           "(vendor field bjbh)"),
])
def test_connectors_reject_bad_records(fmt: str, changes: dict, message: str) -> None:
    assert connector_error(SPEC, fmt, 0, changes) == message


def test_extractors() -> None:
    assert list(metrics.reading(decode(EnergyReading))) == [
        Sum("energy.electricity", 12.34), Sum("energy.electricity.building.B01", 12.34),
        Last("energy.reading", "M-B01-F03-E", 123456.78)]
    solar = decode(EnergyReading, kind="solar", meter_id="M-B02-S", building_id="B02", delta=3.5)
    assert list(metrics.reading(solar))[:2] == [Sum("energy.solar", 3.5), Sum("energy.solar.building.B02", 3.5)]


def test_a_simulated_day_folds_into_building_totals() -> None:
    events = run(SPEC, WORKDAY)
    totals: dict[str, float] = defaultdict(float)
    for (metric, _d, _mi), amount in fold(events, TZ).sums.items():
        totals[metric] += amount
    for kind in ("electricity", "water", "gas", "solar"):
        per_building = sum(v for k, v in totals.items() if k.startswith(f"energy.{kind}.building."))
        assert per_building == pytest.approx(totals[f"energy.{kind}"])
        assert totals[f"energy.{kind}"] == pytest.approx(sum(e.delta for e in events if e.kind == kind))
