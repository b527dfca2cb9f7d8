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
from typing import Any

import numpy as np

from datasources.energy.schemas import UNITS, EnergyReading
from datasources.simkit import Bump, Day, HourlySimulator, curve, rng_for, roster, ticks
from domain.calendar import HolidayCalendar
from domain.compound import Compound

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
KINDS = ("electricity", "water", "gas", "solar")
NOISE = ((0.95, 1.05), (0.8, 1.2), (0.9, 1.1), (0.85, 1.0))  # a reading's random factor, by KINDS
KITCHEN_SHARE = np.array(KITCHEN.share)


class EnergySimulator(HourlySimulator):
    """Every meter at once: the state is one numpy array per quantity over the ~400 meters, and a
    quarter hour's reads are one vectorised step and one `emit_rows` (a read cost ~5 µs in a Python
    loop per meter, a year's backfill ~12 M of them)."""

    system = "energy"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, **kwargs: Any):
        super().__init__(compound, calendar, **kwargs)
        c, init = self.compound, rng_for(self.seed, self.system, "meters")
        self.noise = np.random.default_rng(init.getrandbits(64))
        self.period = self.device_period(READ_S)
        self.buildings = {b.id: b for b in c.buildings}
        canteens = {ct.building_id for ct in c.canteens}
        home = {u.id: u.building_id for u in c.units}
        people = dict.fromkeys(self.buildings, 0)
        for p in c.people:
            people[home[p.unit_id]] += 1
        meters = c.meters
        self.fixed = [(m.id, m.building_id, m.floor, m.kind, UNITS[m.kind]) for m in meters]
        self.kind = np.array([KINDS.index(m.kind) for m in meters])
        weight = np.array([init.uniform(0.7, 1.3) for _ in meters])
        self.offset = np.array([(i % 240) / 240 * min(60.0, self.period / 2) for i in range(len(meters))])
        self.register = np.array([init.uniform(1e4, 1e6) if m.kind == "electricity" else init.uniform(1e2, 1e5)
                                  for m in meters])
        self.last = np.zeros(len(meters))  # epoch seconds of each meter's previous reading; 0: none yet
        self.kwh = np.array([UNITS[m.kind] == "kWh" for m in meters])
        # per meter, its building's base and occupied electric load (kW before season and occupancy),
        # water per occupancy, whether it cooks, and the solar kWp of its roof
        load = {}
        for b in c.buildings:
            annual = b.area_m2 * b.quota_kwh_m2_year * USE_OF_QUOTA
            load[b.id] = (annual * BASE_SHARE / 8760, annual * (1 - BASE_SHARE) / OCCUPIED_HOURS,
                          people[b.id] * WATER_M3_PER_PERSON / 8.5, float(b.id in canteens),
                          b.area_m2 / b.floors * SOLAR_KWP_PER_M2_ROOF)
        self.base, self.occupied, self.water, self.cooks, self.kwp = np.array(
            [load[m.building_id] for m in meters]).T
        share: dict[tuple[str, str], float] = {}
        for m, w in zip(meters, weight):
            share[m.building_id, m.kind] = share.get((m.building_id, m.kind), 0.0) + w
        self.weight = weight / np.array([share[m.building_id, m.kind] for m in meters])
        # the noise band of each kind: electricity ±5 %, water ±20 %, gas in a canteen ±10 %, solar -15 %
        self.noise_lo = np.array([NOISE[k][0] for k in self.kind])
        self.noise_span = np.array([NOISE[k][1] - NOISE[k][0] for k in self.kind])

    def start_day(self, day: Day) -> None:
        rng = self.rng
        on_site = roster(self.compound, self.calendar, self.seed, day.date).on_site()
        staff = max(1, len(self.compound.people))
        self.occupancy = np.array(on_site) / staff / 0.92
        self.day_share = sum(on_site) / staff / 0.92 / 60 / 8.5  # 1.0 on a typical working day
        self.season = SEASON[day.date.month - 1] / (sum(SEASON) / 12)
        self.weather = rng.uniform(0.25, 1.0)
        angle = 2 * math.pi * (day.date.timetuple().tm_yday - 172) / 365
        self.daylight, self.sun_peak = 12 + 2.4 * math.cos(angle), 0.75 + 0.25 * math.cos(angle)
        n = len(self.fixed)
        # per meter: a night load spike (from, to, extra share of the base load), a leak (m³/h), a silence
        self.spike = np.zeros((3, n))
        self.leak = np.zeros(n)
        self.silent = np.zeros((2, n))
        for b in self.buildings:
            mine = [i for i, f in enumerate(self.fixed) if f[1] == b]
            if self.anomaly():
                i = rng.choice([i for i in mine if self.fixed[i][3] == "electricity"])
                start = day.at(rng.choice(("00:30", "20:00"))) + rng.uniform(0, 1.5) * 3600
                self.spike[:, i] = (start, start + rng.uniform(2, 5) * 3600, rng.uniform(1.0, 1.5))
            if self.anomaly():
                self.leak[rng.choice([i for i in mine if self.fixed[i][3] == "water"])] = rng.uniform(0.2, 0.6)
            if self.anomaly():
                start = rng.uniform(day.t0, day.t1 - 3 * 3600)
                self.silent[:, rng.choice(mine)] = (start, start + rng.uniform(1, 3) * 3600)

    def hour(self, day: Day, t0: float, t1: float) -> None:
        for t in ticks(t0, t1, self.period):  # the same quarter hours for every meter
            read = ~((self.silent[0] <= t) & (t < self.silent[1]))
            span = np.where(self.last > 0, t - self.last, self.period)
            minute = np.clip((t - span / 2 - day.t0) // 60, 0, 1439).astype(np.intp)
            rate = self._rates(minute, t)
            delta = np.where(self.kwh, np.round(rate * span / 3600, 2), np.round(rate * span / 3600, 3))
            register = np.round(self.register + delta, 3)
            self.register = np.where(read, register, self.register)
            self.last = np.where(read, t, self.last)
            at = np.flatnonzero(read)
            self.emit_rows((t + self.offset[at]).tolist(), EnergyReading, [
                (*self.fixed[i], r, d, s) for i, r, d, s in zip(
                    at.tolist(), register[at].tolist(), delta[at].tolist(), np.round(span[at]).astype(int).tolist())])

    def _rates(self, minute: np.ndarray, t: float) -> np.ndarray:
        """kW or m³/h of every meter at its minute of the day."""
        occ = self.occupancy[minute]
        noise = self.noise_lo + self.noise_span * self.noise.random(len(minute))
        spike = np.where((self.spike[0] <= t) & (t < self.spike[1]), self.spike[2] * self.base, 0.0)
        electricity = ((self.base + self.occupied * self.season * occ) * self.weight + spike) * noise
        water = ((self.water * occ + 0.01) * self.weight * noise) + self.leak
        gas = np.where(self.cooks > 0, KITCHEN_SHARE[minute] * 60 * KITCHEN_GAS_M3 * self.day_share * noise + 0.2,
                       0.15 + 0.5 * occ)
        hour = minute / 60 - (12.3 - self.daylight / 2)
        solar = np.where((hour > 0) & (hour < self.daylight),
                         self.kwp * self.sun_peak * np.sin(np.pi * hour / self.daylight) * self.weather * noise, 0.0)
        return np.choose(self.kind, (electricity, water, gas, solar))


def make_simulator(compound: Compound, calendar: HolidayCalendar, **kwargs: Any) -> EnergySimulator:
    """The energy simulator; keyword arguments as HourlySimulator (seed, rate, tz, source, seq_start, anomaly_p)."""
    return EnergySimulator(compound, calendar, **kwargs)
