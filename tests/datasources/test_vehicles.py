"""Official vehicles: schemas, simulator, connectors and live-metric extractors."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal

import msgspec
import pytest

from analytics.deltas import Last, Level, Sum, fold
from analytics.metrics import vehicles as metrics
from datasources.vehicles import SPEC
from datasources.vehicles.schemas import (
    VehicleCompliance,
    VehicleMaintenance,
    VehiclePosition,
    VehicleRefuel,
    VehicleTrip,
)
from datasources.vehicles.simulator import PERMITTED_RADIUS_KM
from domain.compound import ORIGIN_LAT, ORIGIN_LON
from tests.datasources.sim_checks import (
    HOLIDAY,
    SATURDAY,
    TZ,
    WORKDAY,
    Decoder,
    assert_connectors_agree,
    connector_error,
    count,
    run,
)

decode = Decoder("2025-03-04T09:00:00+08:00")
POSITION = {"vehicle_id": "V001", "plate": "鲁AA1234", "lat": 36.67, "lon": 117.14, "speed_kmh": 42.5,
            "heading": 35.0, "odometer_km": 58231.4, "trip_id": "TR1", "driver_id": "P00088"}
TRIP = {"trip_id": "TR1", "vehicle_id": "V001", "plate": "鲁AA1234", "driver_id": "P00088", "phase": "end",
        "purpose": "会议", "destination": "省政府", "approval": "approved", "approval_id": "SP1", "passengers": 2,
        "odometer_km": 58250.3, "distance_km": 26.3}
REFUEL = {"refuel_id": "JY1", "vehicle_id": "V001", "plate": "鲁AA1234", "driver_id": "P00088",
          "station_id": "STATION-01", "fuel": "92", "litres": 41.5, "amount": "316.23", "odometer_km": 58237.0}
WORK = {"order_id": "WX1", "vehicle_id": "V017", "plate": "鲁AJ4321", "shop_id": "GARAGE-01", "kind": "service",
        "amount": "860.00", "odometer_km": 65010.2}
DUE = {"vehicle_id": "V017", "plate": "鲁AJ4321", "insurance_expiry": "2025-03-20", "inspection_due": "2025-11-02",
       "last_service_date": "2024-10-08", "last_service_km": 60010.0, "odometer_km": 65010.2}


def km_from_compound(e: VehiclePosition) -> float:
    dy = (e.lat - ORIGIN_LAT) * 111.0
    dx = (e.lon - ORIGIN_LON) * 111.0 * math.cos(math.radians(ORIGIN_LAT))
    return math.hypot(dx, dy)


def test_valid_events_decode() -> None:
    assert decode(VehiclePosition, POSITION).ignition is True
    assert decode(VehicleTrip, TRIP, phase="start", distance_km=None).distance_km is None
    assert decode(VehicleRefuel, REFUEL).amount == Decimal("316.23")
    assert decode(VehicleMaintenance, WORK).description == ""
    assert decode(VehicleCompliance, DUE).insurance_expiry == dt.date(2025, 3, 20)


@pytest.mark.parametrize(("cls", "body", "changes", "message"), [
    (VehiclePosition, POSITION, {"lat": 91.0}, "lat 91.0 is outside -90..90"),
    (VehiclePosition, POSITION, {"lon": -181.0}, "lon -181.0 is outside -180..180"),
    (VehiclePosition, POSITION, {"speed_kmh": 250.0}, "speed_kmh 250.0 km/h is outside 0..220"),
    (VehiclePosition, POSITION, {"heading": 400.0}, "heading 400.0 ° is outside 0..360"),
    (VehiclePosition, POSITION, {"odometer_km": -1.0}, "odometer_km -1.0 km is outside 0..2000000"),
    (VehiclePosition, POSITION, {"lat": "36.67"}, "Expected `float`, got `str` - at `$.lat`"),
    (VehicleTrip, TRIP, {"distance_km": None}, "a trip end needs distance_km"),
    (VehicleTrip, TRIP, {"approval_id": None}, "an approved trip needs approval_id"),
    (VehicleTrip, TRIP, {"approval": "verbal"}, "Invalid enum value 'verbal' - at `$.approval`"),
    (VehicleTrip, TRIP, {"distance_km": 5000.0}, "distance_km 5000.0 km is outside 0..3000"),
    (VehicleRefuel, REFUEL, {"litres": 0.0}, "litres 0.0 L is outside 0.5..200"),
    (VehicleRefuel, REFUEL, {"amount": "31.00"}, "price per litre 0.75 CNY/L is outside 3..15"),
    (VehicleRefuel, REFUEL, {"fuel": "98"}, "Invalid enum value '98' - at `$.fuel`"),
    (VehicleMaintenance, WORK, {"amount": "-1.00"}, "amount -1.00 CNY must be at least 0 and below 100000"),
    (VehicleCompliance, DUE, {"last_service_km": 70000.0},
     "last_service_km 70000.0 must be within 0..odometer_km 65010.2"),
    (VehicleCompliance, DUE, {"inspection_due": "2025-13-01"}, "Invalid RFC3339 encoded date - at `$.inspection_due`"),
])
def test_invalid_events_are_rejected(cls: type, body: dict, changes: dict, message: str) -> None:
    assert decode.error(cls, body, **changes) == message


def test_trips_positions_and_odometers_hang_together() -> None:
    events = run(SPEC, WORKDAY, days=2, anomaly_p=0.0)
    trips = [e for e in events if isinstance(e, VehicleTrip)]
    starts = {e.trip_id: e for e in trips if e.phase == "start"}
    ends = {e.trip_id: e for e in trips if e.phase == "end"}
    assert 60 < len(starts) < 200 and set(starts) == set(ends)
    for tid, end in ends.items():
        start = starts[tid]
        assert start.ts < end.ts and end.odometer_km == pytest.approx(start.odometer_km + end.distance_km, abs=0.2)
        assert start.approval == "approved" and start.ts.astimezone(TZ).hour in range(7, 18)
    odometer: dict[str, float] = {}
    last_fix: dict[str, VehiclePosition] = {}
    for e in events:
        if isinstance(e, VehiclePosition | VehicleTrip):
            assert e.odometer_km >= odometer.get(e.vehicle_id, 0.0) - 0.1
            odometer[e.vehicle_id] = e.odometer_km
        if isinstance(e, VehiclePosition):
            prev = last_fix.get(e.vehicle_id)
            gap = (e.ts - prev.ts).total_seconds() if prev else 0.0
            if prev and prev.speed_kmh > 0 and e.speed_kmh > 0 and prev.heading == e.heading:
                assert 9.9 <= gap <= 30.1  # moving: a fix every 10-30 s
            if prev and prev.trip_id is None and e.trip_id is None:
                assert gap == pytest.approx(900, abs=0.01)  # parked in the garage: every 15 minutes
            assert km_from_compound(e) <= PERMITTED_RADIUS_KM
            last_fix[e.vehicle_id] = e
    deltas = fold(events, TZ)
    assert deltas.levels["vehicles.out"] == 0


def test_days_off_see_few_trips() -> None:
    work = count(run(SPEC, WORKDAY, anomaly_p=0.0))["vehicles.trip"]
    for day in (SATURDAY, HOLIDAY):
        assert count(run(SPEC, day, anomaly_p=0.0))["vehicles.trip"] < 0.15 * work


def test_service_refuel_and_inspection_come_due() -> None:
    events = run(SPEC, WORKDAY, days=10, anomaly_p=0.0)
    work = [e for e in events if isinstance(e, VehicleMaintenance)]
    assert {"service", "inspection"} <= {e.kind for e in work}
    assert any(isinstance(e, VehicleRefuel) for e in events)
    serviced = {e.vehicle_id: e for e in work if e.kind == "service"}
    after = [e for e in events if isinstance(e, VehicleCompliance) and e.vehicle_id in serviced
             and e.ts > serviced[e.vehicle_id].ts]
    assert after and all(e.last_service_km == pytest.approx(serviced[e.vehicle_id].odometer_km, abs=0.1)
                         for e in after)
    dues = [e for e in events if isinstance(e, VehicleCompliance)]
    assert all(e.insurance_expiry > e.ts.date() - dt.timedelta(days=1) for e in dues)


def test_rate_multiplies_fleet_activity() -> None:
    """At rate 4 the fleet is simulated four times over (trips, fixes and heartbeats alike)."""
    one, four = count(run(SPEC, WORKDAY, days=3)), count(run(SPEC, WORKDAY, days=3, rate=4))
    assert 3.6 < sum(four.values()) / sum(one.values()) < 4.6
    assert four["vehicles.compliance"] == 4 * one["vehicles.compliance"]


def test_forced_anomalies_appear() -> None:
    events = run(SPEC, WORKDAY, anomaly_p=1.0)
    starts = [e for e in events if isinstance(e, VehicleTrip) and e.phase == "start"]
    assert any(e.approval == "none" for e in starts)
    assert any(e.ts.astimezone(TZ).hour >= 20 for e in starts)
    assert max(km_from_compound(e) for e in events if isinstance(e, VehiclePosition)) > PERMITTED_RADIUS_KM


def test_connectors_map_json_and_csv_alike() -> None:
    events = assert_connectors_agree(SPEC)
    moving, parked, start, end, refuel, work, due = events
    assert moving.ts == dt.datetime(2025, 3, 4, 9, 12, 30, tzinfo=TZ) and moving.speed_kmh == 42.5
    assert (parked.ignition, parked.trip_id, parked.heading) == (False, None, 0.0)
    assert (start.phase, end.phase, end.distance_km) == ("start", "end", 26.3)
    assert (refuel.fuel, refuel.litres) == ("92", 41.5) and work.kind == "service"
    assert due.inspection_due == dt.date(2025, 11, 2)


@pytest.mark.parametrize(("fmt", "index", "changes", "message"), [
    ("json", 0, {"latitude": 95}, "vehicles record G-20250304-000101: lat 95.0 is outside -90..90"),
    ("csv", 0, {"speed": "fast"}, "vehicles record G-20250304-000101: Expected `float`, got `str` - at "
                                  "`$.speed_kmh` (vendor field speed)"),
    ("json", 3, {"distance": None}, "vehicles record T-20250304-000002: a trip end needs distance_km"),
    ("json", 2, {"applyNo": None}, "vehicles record T-20250304-000001: an approved trip needs approval_id"),
    ("json", 5, {"repairType": "XX"}, "vehicles record R-20250304-000001: field 'repairType': unknown code 'XX', "
                                      "expected one of BY, WX, LT, NJ"),
    ("csv", 6, {"insureEnd": "2025/03/20"}, "vehicles record C-20250304-000017: Invalid RFC3339 encoded date - at "
                                            "`$.insurance_expiry` (vendor field insureEnd)"),
])
def test_connectors_reject_bad_records(fmt: str, index: int, changes: dict, message: str) -> None:
    assert connector_error(SPEC, fmt, index, changes) == message


def test_extractors() -> None:
    assert list(metrics.position(decode(VehiclePosition, POSITION))) == [
        Last("vehicles.position", "V001", {"lat": 36.67, "lon": 117.14, "speed": 42.5, "plate": "鲁AA1234",
                                           "trip": "TR1"})]
    assert list(metrics.trip(decode(VehicleTrip, TRIP, phase="start", approval="none", approval_id=None))) == [
        Level("vehicles.out", 1), Sum("vehicles.trips"), Sum("vehicles.trips_unapproved")]
    assert list(metrics.trip(decode(VehicleTrip, TRIP))) == [
        Level("vehicles.out", -1), Sum("vehicles.mileage_km", 26.3)]
    assert list(metrics.refuel(decode(VehicleRefuel, REFUEL))) == [
        Sum("vehicles.fuel_l", 41.5), Sum("vehicles.fuel_cost", 316.23)]
    assert list(metrics.maintenance(decode(VehicleMaintenance, WORK))) == [
        Sum("vehicles.maintenance"), Sum("vehicles.maintenance_cost", 860.0)]
    assert list(metrics.compliance(decode(VehicleCompliance, DUE))) == [
        Last("vehicles.due", "V017", {"plate": "鲁AJ4321", "insurance": "2025-03-20", "inspection": "2025-11-02",
                                      "km_since_service": 5000.2})]


def test_positions_fold_to_one_point_per_vehicle() -> None:
    deltas = fold(run(SPEC, WORKDAY), TZ)
    points = defaultdict(list)
    for (metric, field), (_t, value) in deltas.lasts.items():
        points[metric].append((field, value))
    assert len(points["vehicles.position"]) == 60
    msgspec.json.encode(deltas.to_wire())
