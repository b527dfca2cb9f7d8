"""Live metrics of official vehicles: vehicles out now, trips today (and those without approval),
mileage, fuel and its cost, garage work, positions for the map and what falls due per vehicle.

Vehicles out is a Level: +1 at a trip's start, -1 at its end. Mileage is counted at trip end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analytics.deltas import Contribution, Last, Level, Sum, declare, extractor

OUT = declare("vehicles.out", "level", "出车中", "vehicles out", "辆")
TRIPS = declare("vehicles.trips", "sum", "出车次数", "trips", "次")
UNAPPROVED = declare("vehicles.trips_unapproved", "sum", "未审批出车", "trips without approval", "次")
MILEAGE = declare("vehicles.mileage_km", "sum", "行驶里程", "mileage", "km")
FUEL = declare("vehicles.fuel_l", "sum", "加油量", "fuel", "L")
FUEL_COST = declare("vehicles.fuel_cost", "sum", "加油金额", "fuel cost", "元")
MAINTENANCE = declare("vehicles.maintenance", "sum", "维修保养", "garage jobs", "次")
MAINTENANCE_COST = declare("vehicles.maintenance_cost", "sum", "维修保养费用", "garage cost", "元")
POSITION = declare("vehicles.position", "last", "车辆位置", "vehicle position", "")
DUE = declare("vehicles.due", "last", "保险年检保养", "insurance, inspection and service", "")


@extractor("vehicles.position")
def position(ev: Any) -> Iterator[Contribution]:
    """Per vehicle, what the map needs: where, how fast, which plate, and whether on a trip."""
    yield Last(POSITION, ev.vehicle_id, {"lat": ev.lat, "lon": ev.lon, "speed": ev.speed_kmh, "plate": ev.plate,
                                         "trip": ev.trip_id})


@extractor("vehicles.trip")
def trip(ev: Any) -> Iterator[Contribution]:
    if ev.phase == "start":
        yield Level(OUT, 1)
        yield Sum(TRIPS)
        if ev.approval != "approved":
            yield Sum(UNAPPROVED)
    else:
        yield Level(OUT, -1)
        yield Sum(MILEAGE, ev.distance_km or 0.0)


@extractor("vehicles.refuel")
def refuel(ev: Any) -> Iterator[Contribution]:
    yield Sum(FUEL, ev.litres)
    yield Sum(FUEL_COST, float(ev.amount))


@extractor("vehicles.maintenance")
def maintenance(ev: Any) -> Iterator[Contribution]:
    yield Sum(MAINTENANCE)
    yield Sum(MAINTENANCE_COST, float(ev.amount))


@extractor("vehicles.compliance")
def compliance(ev: Any) -> Iterator[Contribution]:
    yield Last(DUE, ev.vehicle_id, {"plate": ev.plate, "insurance": ev.insurance_expiry.isoformat(),
                                    "inspection": ev.inspection_due.isoformat(),
                                    "km_since_service": round(ev.odometer_km - ev.last_service_km, 1)})
