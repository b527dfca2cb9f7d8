"""Simulator of official vehicles: each vehicle's day is a chain of parked and driving segments.

Trips leave in the morning and early afternoon of working days (a few duty trips on days off),
drive to a destination, wait there and come back; positions come every 10-30 s while driving and
every 15 minutes while parked. Odometer, fuel, service and inspection state carry across days:
a vehicle due for service (5,000 km or 6 months) or inspection goes to the contracted garage on
the next working day, and one low on fuel refuels at the contracted station during a trip.
Anomalies (probability `anomaly_p` per vehicle and day): a trip without approval, a night trip,
a trip beyond the permitted radius (PERMITTED_RADIUS_KM).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from datasources.simkit import Bump, Day, HourlySimulator, curve, poisson, rng_for, ticks
from datasources.vehicles.schemas import (
    VehicleCompliance,
    VehicleMaintenance,
    VehiclePosition,
    VehicleRefuel,
    VehicleTrip,
)
from domain.calendar import HolidayCalendar
from domain.compound import ORIGIN_LAT, ORIGIN_LON, Compound, Vehicle

EXPECTED_INTERVAL_S = 60.0
PARKED_S = 900.0
PERMITTED_RADIUS_KM = 60.0
ROAD_FACTOR = 1.25
TANK_L = 60.0
SERVICE_KM, SERVICE_DAYS = 5000.0, 182
TRIP_TIMES = curve(Bump("09:00", 45, 0.55, "07:30", "11:30"), Bump("14:30", 50, 0.45, "13:00", "17:00"))
TRIPS_PER_VEHICLE = {True: 0.9, False: 0.05}  # by working day
PRICES = {"92": Decimal("7.62"), "95": Decimal("8.15"), "diesel": Decimal("7.31")}
PURPOSES = ("公务出行", "会议", "调研", "接待", "机要通信", "检查督导")
PLACES = ("省政府", "市政府", "高铁站", "机场", "会展中心", "开发区管委会", "区县政府", "省人民医院")
GARAGE, STATION = "GARAGE-01", "STATION-01"
KM_PER_DEG = 111.0


@dataclass
class Car:
    """One vehicle's state across days, and today's segments (start, end, from, to, km, trip, driver)."""

    vehicle: Vehicle
    index: int
    odometer: float
    fuel: float
    last_service_km: float
    last_service: dt.date
    insurance: dt.date
    inspection: dt.date
    segments: list[tuple[Any, ...]] = field(default_factory=list)
    seg: int = 0
    next_fix: float = 0.0


class VehiclesSimulator(HourlySimulator):
    system = "vehicles"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, **kwargs: Any):
        super().__init__(compound, calendar, **kwargs)
        pool = rng_for(self.seed, self.system, "drivers")
        self.drivers = [p.id for p in pool.sample(compound.people, min(40, len(compound.people)))]
        self.replicas = max(1, math.ceil(self.rate))
        self.cars: list[Car] = []
        self.n = 0

    def _fleet(self, day: Day) -> None:
        rng = self.rng
        for r in range(self.replicas):
            for i, v in enumerate(self.compound.vehicles):
                odo = rng.uniform(20000, 150000)
                self.cars.append(Car(
                    vehicle=v, index=r * len(self.compound.vehicles) + i, odometer=odo, fuel=rng.uniform(20, TANK_L),
                    last_service_km=odo - rng.uniform(0, SERVICE_KM - 100),
                    last_service=day.date - dt.timedelta(days=rng.randrange(SERVICE_DAYS)),
                    insurance=day.date + dt.timedelta(days=rng.randrange(1, 366)),
                    inspection=day.date + dt.timedelta(days=rng.randrange(1, 366))))

    def start_day(self, day: Day) -> None:
        if not self.cars:
            self._fleet(day)
        self.d = day.date.strftime("%Y%m%d")
        total = len(self.cars)
        for car in self.cars:
            self._renew(day, car)
            self._plan(day, car)
            v = car.vehicle
            self.emit(day.at("06:00") + car.index * 3600 / total, VehicleCompliance, {
                "vehicle_id": v.id, "plate": v.plate, "insurance_expiry": car.insurance,
                "inspection_due": car.inspection, "last_service_date": car.last_service,
                "last_service_km": round(car.last_service_km, 1), "odometer_km": round(car.odometer, 1)})

    def _renew(self, day: Day, car: Car) -> None:
        """Insurance is renewed in the last fortnight before it expires, at the latest 3 days ahead."""
        left = (car.insurance - day.date).days
        if left <= 3 or (day.working and left <= 15 and self.rng.random() < 0.3):
            car.insurance += dt.timedelta(days=365)

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.d}{self.n:06d}"

    def _plan(self, day: Day, car: Car) -> None:
        rng, v = self.rng, car.vehicle
        lam = TRIPS_PER_VEHICLE[day.working] * self.rate / self.replicas
        trips = [(day.t0 + TRIP_TIMES.sample(rng), "trip") for _ in range(poisson(rng, lam))]
        due = (car.odometer - car.last_service_km >= SERVICE_KM or (day.date - car.last_service).days >= SERVICE_DAYS
               or (car.inspection - day.date).days <= 20)
        if due and day.working:
            trips.append((day.at("09:00") + rng.uniform(0, 3600), "garage"))
        if self.anomaly():
            trips.append((day.at("20:30") + rng.uniform(0, 3600), "night"))
        trips.sort()
        far = rng.randrange(len(trips)) if trips and self.anomaly() else -1
        unapproved = rng.randrange(len(trips)) if trips and self.anomaly() else -1
        car.segments, car.seg, free = [], 0, day.t0
        home = (ORIGIN_LAT, ORIGIN_LON)
        for k, (start, kind) in enumerate(trips):
            start = max(start, free + rng.uniform(600, 2400))
            if kind != "night" and start > day.at("17:30"):
                continue  # a busy vehicle's late request goes to another day rather than out of hours
            km = rng.uniform(80, 150) if k == far else 5.0 if kind == "garage" else min(45.0, max(
                1.5, rng.lognormvariate(2.1, 0.6)))
            speed = 75.0 if k == far else rng.uniform(25, 40)
            leg = km * ROAD_FACTOR / speed * 3600
            dwell = rng.uniform(90, 180) * 60 if kind == "garage" else rng.uniform(20, 120) * 60
            if kind == "night":
                dwell = rng.uniform(10, 30) * 60
            end = start + 2 * leg + dwell
            if end > day.t1 - 300:
                continue
            bearing = rng.uniform(0, 2 * math.pi)
            dest = (ORIGIN_LAT + km * math.cos(bearing) / KM_PER_DEG,
                    ORIGIN_LON + km * math.sin(bearing) / (KM_PER_DEG * math.cos(math.radians(ORIGIN_LAT))))
            trip, driver, road = self._id("TR"), rng.choice(self.drivers), km * ROAD_FACTOR
            odo = car.odometer
            car.segments += [(free, start, home, home, 0.0, odo, None, None),
                             (start, start + leg, home, dest, road, odo, trip, driver),
                             (start + leg, start + leg + dwell, dest, dest, 0.0, odo + road, trip, driver),
                             (start + leg + dwell, end, dest, home, road, odo + road, trip, driver)]
            approved = k != unapproved
            base = {"trip_id": trip, "vehicle_id": v.id, "plate": v.plate, "driver_id": driver,
                    "purpose": "车辆保养" if kind == "garage" else rng.choice(PURPOSES),
                    "destination": "定点维修厂" if kind == "garage" else rng.choice(PLACES),
                    "approval": "approved" if approved else "none",
                    "approval_id": self._id("SP") if approved else None, "passengers": rng.randint(1, v.seats - 1)}
            self.emit(start, VehicleTrip, {**base, "phase": "start", "odometer_km": round(odo, 1)})
            self.emit(end, VehicleTrip, {**base, "phase": "end", "odometer_km": round(odo + 2 * road, 1),
                                         "distance_km": round(2 * road, 1)})
            self._stops(day, car, start + leg, odo + road, driver, kind)
            car.odometer = odo + 2 * road
            car.fuel = max(2.0, car.fuel - road * v.fuel_l_per_100km / 100)
            free = end
        car.segments.append((free, day.t1, home, home, 0.0, car.odometer, None, None))

    def _stops(self, day: Day, car: Car, at: float, odometer: float, driver: str, kind: str) -> None:
        """What happens at the destination: refuelling when low, the garage's work on a garage trip."""
        rng, v = self.rng, car.vehicle
        car.fuel = max(2.0, car.fuel - (odometer - car.odometer) * v.fuel_l_per_100km / 100)
        if car.fuel < 0.3 * TANK_L:
            litres = round(TANK_L - car.fuel, 2)
            fuel = "diesel" if v.kind == "中巴" else "95" if v.kind == "越野车" else "92"
            self.emit(at + 300, VehicleRefuel, {
                "refuel_id": self._id("JY"), "vehicle_id": v.id, "plate": v.plate, "driver_id": driver,
                "station_id": STATION, "fuel": fuel, "litres": litres,
                "amount": (PRICES[fuel] * Decimal(str(litres))).quantize(Decimal("0.01")),
                "odometer_km": round(odometer, 1)})
            car.fuel = TANK_L
        if kind != "garage":
            return
        work = []
        if car.odometer - car.last_service_km >= SERVICE_KM or (day.date - car.last_service).days >= SERVICE_DAYS:
            work.append(("service", rng.uniform(400, 1200), "常规保养: 机油 机滤 空滤"))
            car.last_service_km, car.last_service = odometer, day.date
        if (car.inspection - day.date).days <= 20:
            work.append(("inspection", rng.uniform(150, 300), "年度检验"))
            car.inspection += dt.timedelta(days=365)
        if not work or rng.random() < 0.1:
            work.append(("repair", rng.uniform(200, 5000), "维修"))
        for kind_, cost, text in work:
            self.emit(at + 600, VehicleMaintenance, {
                "order_id": self._id("WX"), "vehicle_id": v.id, "plate": v.plate, "shop_id": GARAGE, "kind": kind_,
                "amount": Decimal(f"{cost:.2f}"), "odometer_km": round(odometer, 1), "description": text})

    def hour(self, day: Day, t0: float, t1: float) -> None:
        for car in self.cars:
            while car.seg < len(car.segments) and car.segments[car.seg][1] <= t0:
                car.seg += 1
            k = car.seg
            while k < len(car.segments) and car.segments[k][0] < t1:
                self._fixes(car, car.segments[k], t0, t1)
                k += 1

    def _fixes(self, car: Car, seg: tuple[Any, ...], t0: float, t1: float) -> None:
        s, e, (la0, lo0), (la1, lo1), km, odo, trip, driver = seg
        lo, hi = max(t0, s), min(t1, e)
        v, rng = car.vehicle, self.rng
        if km == 0.0:
            times = list(ticks(lo, hi, PARKED_S, (car.index * 15.0) % PARKED_S))
            parked = (v.id, v.plate, round(la0, 6), round(lo0, 6), 0.0, 0.0, round(odo, 1), False, trip, driver)
            self.emit_rows(times, VehiclePosition, [parked] * len(times))
            return
        base = {"vehicle_id": v.id, "plate": v.plate, "trip_id": trip, "driver_id": driver}
        heading = round(math.degrees(math.atan2(lo1 - lo0, la1 - la0)) % 360, 1)
        speed = km / ((e - s) / 3600)
        t = max(car.next_fix, lo)
        while t < hi:
            f = (t - s) / (e - s)
            self.emit(t, VehiclePosition, {
                **base, "lat": round(la0 + f * (la1 - la0) + rng.gauss(0, 0.0001), 6),
                "lon": round(lo0 + f * (lo1 - lo0) + rng.gauss(0, 0.0001), 6),
                "speed_kmh": round(min(120.0, speed * rng.uniform(0.5, 1.4)), 1), "heading": heading,
                "odometer_km": round(odo + f * km, 1)})
            t += rng.uniform(10, 30)
        car.next_fix = t


def make_simulator(compound: Compound, calendar: HolidayCalendar, **kwargs: Any) -> VehiclesSimulator:
    """The vehicles simulator; keyword arguments as HourlySimulator (seed, rate, tz, source, seq_start, anomaly_p)."""
    return VehiclesSimulator(compound, calendar, **kwargs)
