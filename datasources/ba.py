"""Building automation (楼宇自控, BA): HVAC, power distribution, lighting, lifts, fire-system points
and faults, as the BA server reports its points.

Schemas: periodic point reports carry the full state (not just changes), so a wall that
joins late knows every unit's state after one reporting period, and the reports double
as the source's heartbeat. Faults come as raised/cleared pairs.

Simulator: every point reports on a staggered grid, following season, hour and presence.
Per building: one air-handling unit per floor (every 15 min), the main incoming power
(every 5 min), two or more lifts (every 10 min), three fire-system pressure points (every
30 min), two lighting circuits per floor (on change). HVAC runs 07:00-19:00 on working
days and only on a few duty floors on days off; load is a night base plus what presence
and HVAC add; lift trips follow presence. Anomalies (each with probability `anomaly_p`
per day): a smoke detector in alarm, and a loss of incoming voltage with its critical
fault. `rate` shortens every reporting period and multiplies faults (the heartbeat is
kept at rate < 1).
"""

from __future__ import annotations

import math
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

from datasources.base import Event, SchemaError, SystemSpec
from datasources.simkit import SHANGHAI, Day, HourlySimulator, curve, rng_for, roster, stagger_lists
from datasources.vendorkit import RecordType, VendorFormat, check_range, code, flag
from domain.calendar import HolidayCalendar
from domain.compound import Compound

# --- event schemas ----------------------------------------------------------------------------------

HvacMode = Literal["cool", "heat", "ventilate"]
LightTrigger = Literal["schedule", "manual", "sensor"]
LiftStatus = Literal["running", "idle", "fault", "maintenance"]
Direction = Literal["up", "down", "stop"]
FireDevice = Literal["smoke_detector", "sprinkler", "fire_pump", "hydrant", "damper"]
FireStatus = Literal["normal", "alarm", "fault", "isolated"]
Subsystem = Literal["hvac", "power", "lighting", "lift", "fire"]
FaultSeverity = Literal["minor", "major", "critical"]
FaultState = Literal["raised", "cleared"]


class BaHvac(Event, tag="ba.hvac", frozen=True, kw_only=True):
    """An air-handling unit's report: on/off, mode, supply and return air temperature."""

    point_id: str
    building_id: str
    floor: int
    on: bool
    mode: HvacMode
    supply_temp_c: float
    return_temp_c: float
    setpoint_c: float
    fan_pct: float = 0.0

    def check(self) -> None:
        check_range("floor", self.floor, -5, 200)
        check_range("supply_temp_c", self.supply_temp_c, -10, 70, "°C")
        check_range("return_temp_c", self.return_temp_c, 0, 45, "°C")
        check_range("setpoint_c", self.setpoint_c, 10, 35, "°C")
        check_range("fan_pct", self.fan_pct, 0, 100, "%")
        if not self.on and self.fan_pct > 0:
            raise SchemaError("a unit that is off cannot run its fan (fan_pct must be 0)")


class BaPower(Event, tag="ba.power", frozen=True, kw_only=True):
    """A building's main incoming power: load and line voltage (0 V is an outage)."""

    point_id: str
    building_id: str
    load_kw: float
    voltage_v: float
    current_a: float
    power_factor: float = 0.9

    def check(self) -> None:
        check_range("load_kw", self.load_kw, 0, 20_000, "kW")
        check_range("voltage_v", self.voltage_v, 0, 480, "V")
        check_range("current_a", self.current_a, 0, 40_000, "A")
        check_range("power_factor", self.power_factor, 0, 1)


class BaLighting(Event, tag="ba.lighting", frozen=True, kw_only=True):
    """A lighting circuit switched or dimmed."""

    circuit_id: str
    building_id: str
    floor: int
    on: bool
    level_pct: float
    power_kw: float
    trigger: LightTrigger = "schedule"

    def check(self) -> None:
        check_range("floor", self.floor, -5, 200)
        check_range("level_pct", self.level_pct, 0, 100, "%")
        check_range("power_kw", self.power_kw, 0, 500, "kW")
        if not self.on and self.level_pct > 0:
            raise SchemaError("a circuit that is off must report level_pct 0")


class BaLift(Event, tag="ba.lift", frozen=True, kw_only=True):
    """A lift's report: status, position, and trips since the previous report."""

    lift_id: str
    building_id: str
    status: LiftStatus
    floor: int
    direction: Direction
    trips: int
    load_pct: float = 0.0

    def check(self) -> None:
        check_range("floor", self.floor, -5, 200)
        check_range("trips", self.trips, 0, 10_000)
        check_range("load_pct", self.load_pct, 0, 150, "%")


class BaFirePoint(Event, tag="ba.fire_point", frozen=True, kw_only=True):
    """A fire-system point (detector, sprinkler or hydrant pressure, pump, damper) and its status."""

    point_id: str
    building_id: str
    floor: int
    device: FireDevice
    status: FireStatus
    pressure_mpa: float | None = None

    def check(self) -> None:
        check_range("floor", self.floor, -5, 200)
        if self.pressure_mpa is not None:
            check_range("pressure_mpa", self.pressure_mpa, 0, 3, "MPa")


class BaFault(Event, tag="ba.fault", frozen=True, kw_only=True):
    """A point's fault raised or cleared; the pair counts open faults per subsystem."""

    fault_id: str
    point_id: str
    building_id: str
    subsystem: Subsystem
    fault_code: str
    severity: FaultSeverity
    state: FaultState
    description: str = ""

    def check(self) -> None:
        if not self.fault_code.strip():
            raise SchemaError("fault_code must not be empty")


EVENTS: tuple[type[Event], ...] = (BaHvac, BaPower, BaLighting, BaLift, BaFirePoint, BaFault)


# --- simulator ----------------------------------------------------------------------------------

EXPECTED_INTERVAL_S = 120.0
PERIODS_S = {"hvac": 900.0, "power": 300.0, "lift": 600.0, "fire": 1800.0}
FAULTS_PER_DAY = 4.0
DIRECTION_NAMES = ("up", "down", "stop")
# Monthly mean outdoor temperature, °C (a northern provincial capital).
OUTDOOR_C = (-0.4, 3.0, 9.5, 16.5, 22.5, 27.0, 28.0, 26.8, 22.5, 16.5, 8.6, 1.8)
FIRE_POINTS = (("FP", "fire_pump", (0.55, 0.75)), ("SP", "sprinkler", (0.30, 0.50)), ("HY", "hydrant", (0.25, 0.40)))
FAULT_CODES = {
    "hvac": ("HV-E101", "过滤网压差过高"), "power": ("PD-E204", "电容补偿柜故障"),
    "lighting": ("LT-E301", "回路通信中断"), "lift": ("EL-E402", "门锁回路故障"), "fire": ("FA-E501", "探测器污染"),
}


def mode_of(month: int) -> str:
    """The season's HVAC mode: plants switch between cooling and heating seasons, not by the hour."""
    return "cool" if 5 <= month <= 9 else "heat" if month in (11, 12, 1, 2, 3) else "ventilate"


class BaSimulator(HourlySimulator):
    """The BA points of every building, reporting through the day."""

    system = "ba"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, *, seed: int, rate: float = 1.0,
                 tz: ZoneInfo = SHANGHAI, source: str = "sim.ba", seq_start: int = 0, anomaly_p: float = 0.1):
        super().__init__(compound, calendar, seed=seed, rate=rate, tz=tz, source=source, seq_start=seq_start,
                         anomaly_p=anomaly_p)
        bs = compound.buildings
        self.ahus = [(f"{b.id}-AHU-F{f:02d}", b.id, f) for b in bs for f in range(1, b.floors + 1)]
        self.mains = [(f"{b.id}-PD-MAIN", b.id, b.area_m2) for b in bs]
        self.lifts = [(f"{b.id}-EL-{n + 1}", b.id, b.floors) for b in bs for n in range(2 + b.floors // 6)]
        self.fire = [(f"{b.id}-{code}-1", b.id, dev, rng) for b in bs for code, dev, rng in FIRE_POINTS]
        self.circuits = [(f"{b.id}-LT-F{f:02d}-{k}", b.id, f, k) for b in bs for f in range(1, b.floors + 1)
                         for k in (1, 2)]
        self.points = {"hvac": self.ahus, "power": self.mains, "lighting": self.circuits, "lift": self.lifts,
                       "fire": self.fire}
        self.periods = {name: self.device_period(p, n, EXPECTED_INTERVAL_S) for (name, p), n in zip(
            PERIODS_S.items(), (len(self.ahus), len(self.mains), len(self.lifts), len(self.fire)))}
        self.staff = max(1, len(compound.people))
        self.outage: tuple[str, float, float] | None = None  # building, from, to (epoch seconds)
        self.duty = np.zeros(len(self.ahus), dtype=bool)  # units kept on on days off
        self.on_site: list[int] = []
        # what the vectorised reports read per point: their random draws come from `noise`
        self.noise = np.random.default_rng(rng_for(seed, self.system, "noise").getrandbits(64))
        self.main_area = np.array([area for _p, _b, area in self.mains], dtype=float)
        self.main_building = np.array([b for _p, b, _a in self.mains])
        self.lift_floors = np.array([floors for _l, _b, floors in self.lifts])
        self.fire_fixed = [(point, bid, -1, dev) for point, bid, dev, _r in self.fire]
        self.fire_lo = np.array([lo for *_, (lo, _hi) in self.fire])
        self.fire_span = np.array([hi - lo for *_, (lo, hi) in self.fire])

    def start_day(self, day: Day) -> None:
        rng = self.rng
        self.on_site = roster(self.compound, self.calendar, self.seed, day.date).on_site()
        self.duty[:] = False
        self.duty[rng.sample(range(len(self.ahus)), max(1, len(self.ahus) // 20))] = True
        self._plan_lighting(day)
        for n, t in enumerate(curve(base=1.0).arrivals(rng, FAULTS_PER_DAY * self.rate, 0, 86400)):
            sub = rng.choice(tuple(FAULT_CODES))
            point, bid = rng.choice(self.points[sub])[:2]
            self._fault(day.t0 + t, rng.uniform(600, 6 * 3600), f"BF{day.date:%Y%m%d}{n + 1:04d}", point, bid, sub,
                        rng.choice(("minor", "minor", "major")))
        if self.anomaly():
            point, bid, _dev, _r = rng.choice([p for p in self.fire if p[2] == "sprinkler"])
            at = day.t0 + rng.uniform(0, 86400)
            self.emit(at, BaFirePoint, dict(point_id=point.replace("-SP-", "-SD-"), building_id=bid,
                                            floor=rng.randint(1, 8), device="smoke_detector", status="alarm"))
        if self.anomaly():
            point, bid, _area = rng.choice(self.mains)
            at, length = day.t0 + rng.uniform(0, 86400), rng.uniform(300, 1200)
            self.outage = (bid, at, at + length)
            self._fault(at, length, f"BF{day.date:%Y%m%d}9999", point, bid, "power", "critical",
                        ("PD-E001", "进线失压"))

    def _fault(self, at: float, length: float, fault_id: str, point: str, building_id: str, sub: str, severity: str,
               code: tuple[str, str] | None = None) -> None:
        """A fault raised at `at` and cleared `length` seconds later (possibly on a later day)."""
        fault_code, text = code or FAULT_CODES[sub]
        base = dict(fault_id=fault_id, point_id=point, building_id=building_id, subsystem=sub, fault_code=fault_code,
                    severity=severity, description=text)
        self.emit(at, BaFault, dict(base, state="raised"))
        self.emit(at + length, BaFault, dict(base, state="cleared"))

    def _plan_lighting(self, day: Day) -> None:
        """Office circuits on from about 07:30 on working days; corridor circuits dim at night all year."""
        rng = self.rng
        for cid, bid, floor, k in self.circuits:
            base = dict(circuit_id=cid, building_id=bid, floor=floor)
            if k == 2:
                self.emit(day.at("07:00") + rng.uniform(0, 60), BaLighting, dict(base, on=True, level_pct=100.0,
                                                                                  power_kw=3.2))
                self.emit(day.at("19:00") + rng.uniform(0, 60), BaLighting, dict(base, on=True, level_pct=30.0,
                                                                                  power_kw=1.0))
            elif day.working:
                self.emit(day.at("07:20") + rng.uniform(0, 1200), BaLighting, dict(base, on=True, level_pct=100.0,
                                                                                    power_kw=6.5))
                self.emit(day.at("18:20") + rng.uniform(0, 6000), BaLighting, dict(
                    base, on=False, level_pct=0.0, power_kw=0.0, trigger=rng.choice(("schedule", "sensor"))))

    def hour(self, day: Day, t0: float, t1: float) -> None:
        """Each kind of point as one vectorised step and one `emit_rows` (~16 M point reports a year)."""
        local = (t0 - day.t0) / 3600
        share = self.on_site[min(1439, int((t0 - day.t0) // 60))] / self.staff
        month = day.date.month
        mode = mode_of(month)
        outdoor = OUTDOOR_C[month - 1] + 5 * math.sin((local - 9) / 24 * 2 * math.pi)
        setpoint = {"cool": 26.0, "heat": 20.0, "ventilate": 24.0}[mode]
        supply = {"cool": 13.0, "heat": 36.0, "ventilate": outdoor}[mode]
        running = day.working and 7 <= local < 19
        self._hvac(t0, t1, running or (self.duty & (8 <= local < 18)), mode, setpoint, supply, outdoor)
        self._power(t0, t1, share, running)
        self._lifts(t0, t1, share)
        times, at = self._grid(t0, t1, "fire")
        lo, span = self.fire_lo[at], self.fire_span[at]
        pressure = np.round(lo + span * self.noise.random(len(at)), 3)
        self.emit_rows(times, BaFirePoint, [(*self.fire_fixed[i], "normal", p) for i, p in zip(
            at.tolist(), pressure.tolist())])

    def _grid(self, t0: float, t1: float, kind: str) -> tuple[list[float], np.ndarray]:
        """Times and device indices of one kind's staggered reports in [t0, t1)."""
        times, at = stagger_lists(t0, t1, self.periods[kind], len(self.points[kind]))
        return times, np.array(at, dtype=np.intp)

    def _hvac(self, t0: float, t1: float, on_by_unit: np.ndarray | bool, mode: str, setpoint: float, supply: float,
              outdoor: float) -> None:
        times, at = self._grid(t0, t1, "hvac")
        on = np.broadcast_to(on_by_unit, (len(self.ahus),))[at]
        u = self.noise.random((3, len(at)))
        ret = np.where(on, setpoint + u[0] * 2 - 0.5, (setpoint + outdoor) / 2 + u[0])
        supply_c = np.round(np.where(on, supply + u[1] * 2 - 1, ret - 0.3), 1)
        return_c = np.round(np.clip(ret, 1.0, 44.0), 1)
        fan = np.where(on, np.round(40 + 50 * u[2], 1), 0.0)
        self.emit_rows(times, BaHvac, [(*self.ahus[i], o, mode, s, r, setpoint, f) for i, o, s, r, f in zip(
            at.tolist(), on.tolist(), supply_c.tolist(), return_c.tolist(), fan.tolist())])

    def _power(self, t0: float, t1: float, share: float, running: bool) -> None:
        times, at = self._grid(t0, t1, "power")
        n = len(at)
        u = self.noise.random((2, n))
        load = self.main_area[at] * (0.008 + 0.022 * share + (0.012 if running else 0.0)) * (0.95 + 0.1 * u[0])
        volt, pf = 380 + self.noise.normal(0, 3, n), 0.88 + 0.07 * u[1]
        current = np.round(load * 1000 / (math.sqrt(3) * volt * pf), 1)
        load, volt, pf = np.round(load, 1), np.round(volt, 1), np.round(pf, 3)
        out = self.outage
        if out is not None:  # the building's incoming line lost: zeros, and the default power factor
            when = np.array(times)
            dark = (self.main_building[at] == out[0]) & (out[1] <= when) & (when < out[2])
            load, volt, current = (np.where(dark, 0.0, x) for x in (load, volt, current))
            pf = np.where(dark, 0.9, pf)
        self.emit_rows(times, BaPower, [(*self.mains[i][:2], a, v, c, p) for i, a, v, c, p in zip(
            at.tolist(), load.tolist(), volt.tolist(), current.tolist(), pf.tolist())])

    def _lifts(self, t0: float, t1: float, share: float) -> None:
        times, at = self._grid(t0, t1, "lift")
        u = self.noise.random((4, len(at)))
        trips = np.round(share * self.periods["lift"] / 60 * 1.5 * (0.5 + u[0])).astype(np.int64)
        busy = trips > 0
        floor = np.where(busy, 1 + (u[1] * self.lift_floors[at]).astype(np.int64), 1)
        direction = np.where(busy, np.where(u[2] < 0.5, 0, 1), 2)
        load = np.where(busy, np.round(60 * u[3], 1), 0.0)
        self.emit_rows(times, BaLift, [
            (*self.lifts[i][:2], "running" if b else "idle", f, DIRECTION_NAMES[d], n, p)
            for i, b, f, d, n, p in zip(at.tolist(), busy.tolist(), floor.tolist(), direction.tolist(),
                                        trips.tolist(), load.tolist())])


# --- connectors ----------------------------------------------------------------------------------

# Connectors for the BA server's point export (a BACnet gateway's history export).
#
# One flat record per point report, JSON or CSV, local wall-clock time without a zone:
#
# | vendor field | event field | notes |
# |---|---|---|
# | PointType | (schema) | AHU, PD (power), LT (lighting), EL (lift), FA (fire point), FAULT |
# | RecId | key | the gateway's record id; key = make_key(RecTime, hash(RecId)) |
# | RecTime | ts | "2025-03-03 08:15:00", local time |
# | SerialNo | seq | the gateway's running serial number |
# | PointCode, BldgCode, FloorNo | point_id / circuit_id / lift_id, building_id, floor | |
# | RunState, Mode | on, mode | AHU; 1/0; COOL, HEAT, VENT |
# | SupplyT, ReturnT, SetT, FanPct | supply_temp_c, return_temp_c, setpoint_c, fan_pct | AHU |
# | LoadKW, VoltV, CurrA, PF | load_kw, voltage_v, current_a, power_factor | PD |
# | OnOff, Level, PowerKW, Trigger | on, level_pct, power_kw, trigger | LT; SCH, MAN, SNS |
# | LiftState, CurFloor, Dir, Trips, LoadPct | status, floor, direction, trips, load_pct | EL; RUN, IDLE, FAULT, MAINT |
# | DevType, PtState, PressMPa | device, status, pressure_mpa | FA; 0 normal, 1 alarm, 2 fault, 3 isolated |
# | FaultId, SubSys, FaultCode, FaultLevel | fault_id, subsystem, fault_code, severity | FAULT; level 1-3 |
# | FaultState, FaultDesc | state, description | FAULT; RAISE, CLEAR |

MODES = {"COOL": "cool", "HEAT": "heat", "VENT": "ventilate"}
TRIGGERS = {"SCH": "schedule", "MAN": "manual", "SNS": "sensor"}
LIFT_STATES = {"RUN": "running", "IDLE": "idle", "FAULT": "fault", "MAINT": "maintenance"}
DIRECTIONS = {"UP": "up", "DN": "down", "STOP": "stop"}
DEVICES = {"SMOKE": "smoke_detector", "SPRINK": "sprinkler", "PUMP": "fire_pump", "HYD": "hydrant", "DAMPER": "damper"}
POINT_STATES = {"0": "normal", "1": "alarm", "2": "fault", "3": "isolated"}
SUBSYSTEMS = {"AHU": "hvac", "PD": "power", "LT": "lighting", "EL": "lift", "FA": "fire"}
FAULT_LEVELS = {"1": "minor", "2": "major", "3": "critical"}
FAULT_STATES = {"RAISE": "raised", "CLEAR": "cleared"}

FORMAT = VendorFormat(
    system="ba", type_field="PointType", id_field="RecId", time_field="RecTime", seq_field="SerialNo",
    types={
        "AHU": RecordType(BaHvac, {
            "point_id": "PointCode", "building_id": "BldgCode", "floor": "FloorNo", "on": flag("RunState"),
            "mode": code("Mode", MODES), "supply_temp_c": "SupplyT", "return_temp_c": "ReturnT",
            "setpoint_c": "SetT", "fan_pct": "FanPct",
        }),
        "PD": RecordType(BaPower, {
            "point_id": "PointCode", "building_id": "BldgCode", "load_kw": "LoadKW", "voltage_v": "VoltV",
            "current_a": "CurrA", "power_factor": "PF",
        }),
        "LT": RecordType(BaLighting, {
            "circuit_id": "PointCode", "building_id": "BldgCode", "floor": "FloorNo", "on": flag("OnOff"),
            "level_pct": "Level", "power_kw": "PowerKW", "trigger": code("Trigger", TRIGGERS),
        }),
        "EL": RecordType(BaLift, {
            "lift_id": "PointCode", "building_id": "BldgCode", "status": code("LiftState", LIFT_STATES),
            "floor": "CurFloor", "direction": code("Dir", DIRECTIONS), "trips": "Trips", "load_pct": "LoadPct",
        }),
        "FA": RecordType(BaFirePoint, {
            "point_id": "PointCode", "building_id": "BldgCode", "floor": "FloorNo",
            "device": code("DevType", DEVICES), "status": code("PtState", POINT_STATES), "pressure_mpa": "PressMPa",
        }),
        "FAULT": RecordType(BaFault, {
            "fault_id": "FaultId", "point_id": "PointCode", "building_id": "BldgCode",
            "subsystem": code("SubSys", SUBSYSTEMS), "fault_code": "FaultCode",
            "severity": code("FaultLevel", FAULT_LEVELS), "state": code("FaultState", FAULT_STATES),
            "description": "FaultDesc",
        }),
    },
)


SPEC = SystemSpec(
    name="ba", title_zh="楼宇自控", title_en="Building automation", events=EVENTS,
    expected_interval_s=EXPECTED_INTERVAL_S, make_simulator=BaSimulator, connectors=FORMAT.connectors(),
)
