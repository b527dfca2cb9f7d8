"""Simulator of smart energy: every meter read every 15 minutes, consumption following occupancy.

Electricity is a base load around the clock plus a part that follows the day's roster (people
on site) and the season (heating and cooling), sized so a building uses about 92 % of its
annual quota (能耗定额, kWh per m² per year). Water follows people too, gas the canteen kitchens'
cooking hours, solar the sun by season and the day's weather. Registers carry across days.
Readings come in a burst after each quarter hour (the concentrator polls meters in turn), so
the source is never silent for longer than 15 minutes: expected interval 15 min + 5 min margin.
At rate > 1 meters are read `rate` times as often (interval 15 min / rate), for load tests.
Anomalies (probability `anomaly_p` per building and day): a night load spike on an electricity
meter (above 1.5x its baseline), a water leak (steady flow all day), a meter silent for hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from datasources.energy.schemas import UNITS, EnergyReading
from datasources.simkit import Bump, Day, HourlySimulator, curve, rng_for, roster, ticks
from domain.calendar import HolidayCalendar
from domain.compound import Compound, Meter

EXPECTED_INTERVAL_S = 1200.0
READ_S = 900.0
USE_OF_QUOTA = 0.92
BASE_SHARE = 0.40  # of annual electricity, flat around the clock
OCCUPIED_HOURS = 2200.0  # full-occupancy-equivalent hours a year
SEASON = (1.3, 1.2, 1.0, 0.85, 0.9, 1.15, 1.35, 1.35, 1.05, 0.85, 1.0, 1.25)
WATER_M3_PER_PERSON = 0.05  # a working day
KITCHEN = curve(Bump("06:45", 30, 0.25), Bump("11:00", 50, 0.45), Bump("17:00", 40, 0.30))
KITCHEN_GAS_M3 = 120.0  # a canteen building on a working day
SOLAR_KWP_PER_M2_ROOF = 0.075


@dataclass
class MeterState:
    meter: Meter
    weight: float  # share of its building's load of its kind
    offset: float  # seconds after the quarter hour when the concentrator reads it
    register: float
    last: float = 0.0  # epoch seconds of the previous reading


class EnergySimulator(HourlySimulator):
    system = "energy"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, **kwargs: Any):
        super().__init__(compound, calendar, **kwargs)
        c, init = self.compound, rng_for(self.seed, self.system, "meters")
        self.period = self.device_period(READ_S)
        self.buildings = {b.id: b for b in c.buildings}
        self.canteen_buildings = {ct.building_id for ct in c.canteens}
        home = {u.id: u.building_id for u in c.units}
        self.people = dict.fromkeys(self.buildings, 0)
        for p in c.people:
            self.people[home[p.unit_id]] += 1
        self.meters = [MeterState(m, init.uniform(0.7, 1.3), (i % 240) / 240 * min(60.0, self.period / 2),
                                  init.uniform(1e4, 1e6) if m.kind == "electricity" else init.uniform(1e2, 1e5))
                       for i, m in enumerate(c.meters)]
        # per building: base and occupied electric load (kW before season and occupancy), water per occupancy
        self.load: dict[str, tuple[float, float, float]] = {}
        for b in c.buildings:
            annual = b.area_m2 * b.quota_kwh_m2_year * USE_OF_QUOTA
            self.load[b.id] = (annual * BASE_SHARE / 8760, annual * (1 - BASE_SHARE) / OCCUPIED_HOURS,
                               self.people[b.id] * WATER_M3_PER_PERSON / 8.5)
        count: dict[tuple[str, str], float] = {}
        for s in self.meters:
            count[s.meter.building_id, s.meter.kind] = count.get((s.meter.building_id, s.meter.kind), 0) + s.weight
        for s in self.meters:
            s.weight /= count[s.meter.building_id, s.meter.kind]

    def start_day(self, day: Day) -> None:
        rng = self.rng
        on_site = roster(self.compound, self.calendar, self.seed, day.date).on_site()
        staff = max(1, len(self.compound.people))
        self.occupancy = [n / staff / 0.92 for n in on_site]
        self.day_share = sum(on_site) / staff / 0.92 / 60 / 8.5  # 1.0 on a typical working day
        self.season = SEASON[day.date.month - 1] / (sum(SEASON) / 12)
        self.weather = rng.uniform(0.25, 1.0)
        angle = 2 * math.pi * (day.date.timetuple().tm_yday - 172) / 365
        self.daylight, self.sun_peak = 12 + 2.4 * math.cos(angle), 0.75 + 0.25 * math.cos(angle)
        self.spike: dict[str, tuple[float, float, float]] = {}
        self.leak: dict[str, float] = {}
        self.silent: dict[str, tuple[float, float]] = {}
        for b in self.buildings:
            mine = [s for s in self.meters if s.meter.building_id == b]
            if self.anomaly():
                s = rng.choice([x for x in mine if x.meter.kind == "electricity"])
                start = day.at(rng.choice(("00:30", "20:00"))) + rng.uniform(0, 1.5) * 3600
                self.spike[s.meter.id] = (start, start + rng.uniform(2, 5) * 3600, rng.uniform(1.0, 1.5))
            if self.anomaly():
                self.leak[rng.choice([x for x in mine if x.meter.kind == "water"]).meter.id] = rng.uniform(0.2, 0.6)
            if self.anomaly():
                start = rng.uniform(day.t0, day.t1 - 3 * 3600)
                self.silent[rng.choice(mine).meter.id] = (start, start + rng.uniform(1, 3) * 3600)

    def hour(self, day: Day, t0: float, t1: float) -> None:
        period, day_t0, rate, emit = self.period, day.t0, self._rate, self.emit
        reads = list(ticks(t0, t1, period))  # the same quarter hours for every meter
        for s in self.meters:
            m = s.meter
            silent = self.silent.get(m.id)
            unit = UNITS[m.kind]
            digits = 2 if unit == "kWh" else 3
            for t in reads:
                if silent is not None and silent[0] <= t < silent[1]:
                    continue
                span = t - s.last if s.last else period
                mid = min(1439, max(0, int((t - span / 2 - day_t0) // 60)))
                delta = round(rate(s, mid, t) * span / 3600, digits)
                s.register = round(s.register + delta, 3)
                s.last = t
                emit(t + s.offset, EnergyReading, {
                    "meter_id": m.id, "building_id": m.building_id, "floor": m.floor, "kind": m.kind,
                    "unit": unit, "reading": s.register, "delta": delta, "interval_s": round(span)})

    def _rate(self, s: MeterState, minute: int, t: float) -> float:
        """kW or m³/h of a meter at a minute of the day."""
        m = s.meter
        occ, rng = self.occupancy[minute], self.rng
        if m.kind == "electricity":
            base, occupied, _water = self.load[m.building_id]
            kw = (base + occupied * self.season * occ) * s.weight
            spike = self.spike.get(m.id)
            if spike is not None and spike[0] <= t < spike[1]:
                kw += spike[2] * base  # equipment left on: the building's night load doubles or more
            return kw * rng.uniform(0.95, 1.05)
        if m.kind == "water":
            per_hour = self.load[m.building_id][2] * occ + 0.01
            return per_hour * s.weight * rng.uniform(0.8, 1.2) + self.leak.get(m.id, 0.0)
        b = self.buildings[m.building_id]
        if m.kind == "gas":
            if b.id in self.canteen_buildings:
                return KITCHEN.share[minute] * 60 * KITCHEN_GAS_M3 * self.day_share * rng.uniform(0.9, 1.1) + 0.2
            return 0.15 + 0.5 * occ
        hour = minute / 60 - (12.3 - self.daylight / 2)
        if not 0 < hour < self.daylight:
            return 0.0
        kwp = b.area_m2 / b.floors * SOLAR_KWP_PER_M2_ROOF
        return kwp * self.sun_peak * math.sin(math.pi * hour / self.daylight) * self.weather * rng.uniform(0.85, 1.0)


def make_simulator(compound: Compound, calendar: HolidayCalendar, **kwargs: Any) -> EnergySimulator:
    """The energy simulator; keyword arguments as HourlySimulator (seed, rate, tz, source, seq_start, anomaly_p)."""
    return EnergySimulator(compound, calendar, **kwargs)
