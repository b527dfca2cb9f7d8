"""Event schemas of official vehicles (公务用车): GPS positions, trips with purpose and approval,
refuelling at the contracted station (定点加油), maintenance at the contracted garage (定点维修),
and a daily compliance record (insurance, inspection, last service) per vehicle.

Positions come every 10-30 s while moving and every 15 minutes while parked, so the fleet's
terminals are also the system's heartbeat.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from datasources.base import Event, SchemaError
from datasources.vendorkit import check_money, check_range

Approval = Literal["approved", "pending", "none"]
Fuel = Literal["92", "95", "diesel"]
Work = Literal["service", "repair", "tyre", "inspection"]
MAX_ODOMETER_KM = 2_000_000


class VehiclePosition(Event, tag="vehicles.position", frozen=True, kw_only=True):
    """A GPS fix of a vehicle terminal; `trip_id` is set while the vehicle is out on a trip."""

    vehicle_id: str
    plate: str
    lat: float
    lon: float
    speed_kmh: float
    heading: float = 0.0
    odometer_km: float
    ignition: bool = True
    trip_id: str | None = None
    driver_id: str | None = None

    def check(self) -> None:
        check_range("lat", self.lat, -90, 90)
        check_range("lon", self.lon, -180, 180)
        check_range("speed_kmh", self.speed_kmh, 0, 220, "km/h")
        check_range("heading", self.heading, 0, 360, "°")
        check_range("odometer_km", self.odometer_km, 0, MAX_ODOMETER_KM, "km")


class VehicleTrip(Event, tag="vehicles.trip", frozen=True, kw_only=True):
    """A trip leaves (start) or returns to (end) the compound; use needs an approved request."""

    trip_id: str
    vehicle_id: str
    plate: str
    driver_id: str
    phase: Literal["start", "end"]
    purpose: str
    destination: str
    approval: Approval
    approval_id: str | None = None
    passengers: int = 1
    odometer_km: float
    distance_km: float | None = None

    def check(self) -> None:
        check_range("passengers", self.passengers, 0, 60)
        check_range("odometer_km", self.odometer_km, 0, MAX_ODOMETER_KM, "km")
        if self.approval == "approved" and self.approval_id is None:
            raise SchemaError("an approved trip needs approval_id")
        if self.phase == "end" and self.distance_km is None:
            raise SchemaError("a trip end needs distance_km")
        if self.distance_km is not None:
            check_range("distance_km", self.distance_km, 0, 3000, "km")


class VehicleRefuel(Event, tag="vehicles.refuel", frozen=True, kw_only=True):
    """Fuel bought at the contracted station, paid by the fleet card."""

    refuel_id: str
    vehicle_id: str
    plate: str
    driver_id: str
    station_id: str
    fuel: Fuel
    litres: float
    amount: Decimal
    odometer_km: float

    def check(self) -> None:
        check_range("litres", self.litres, 0.5, 200, "L")
        check_money("amount", self.amount)
        check_range("odometer_km", self.odometer_km, 0, MAX_ODOMETER_KM, "km")
        check_range("price per litre", round(float(self.amount) / self.litres, 2), 3, 15, "CNY/L")


class VehicleMaintenance(Event, tag="vehicles.maintenance", frozen=True, kw_only=True):
    """Work done at the contracted garage: service, repair, tyres or the annual inspection."""

    order_id: str
    vehicle_id: str
    plate: str
    shop_id: str
    kind: Work
    amount: Decimal
    odometer_km: float
    description: str = ""

    def check(self) -> None:
        check_money("amount", self.amount)
        check_range("odometer_km", self.odometer_km, 0, MAX_ODOMETER_KM, "km")


class VehicleCompliance(Event, tag="vehicles.compliance", frozen=True, kw_only=True):
    """A vehicle's daily record of what falls due: reminders come 30 days ahead (DOMAIN.md)."""

    vehicle_id: str
    plate: str
    insurance_expiry: dt.date
    inspection_due: dt.date
    last_service_date: dt.date
    last_service_km: float
    odometer_km: float

    def check(self) -> None:
        check_range("odometer_km", self.odometer_km, 0, MAX_ODOMETER_KM, "km")
        if not 0 <= self.last_service_km <= self.odometer_km:
            raise SchemaError(f"last_service_km {self.last_service_km} must be within 0..odometer_km "
                              f"{self.odometer_km}")


EVENTS = (VehiclePosition, VehicleTrip, VehicleRefuel, VehicleMaintenance, VehicleCompliance)
