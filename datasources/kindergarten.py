"""Compound kindergarten (机关幼儿园): check-in with the morning health check, health checks during
the day, check-out with who picked the child up, and terminal status.

Schemas: check-out says whether the pick-up person is a registered guardian, so the
critical alarm "picked up by an unregistered person" needs no lookup; names and phones
are carried as the system records them and masked on the server before a wall sees them.

Simulator: about 185 of 200 children on a working day, none on days off. Children come
with a parent on the way to work (check-in follows the parent's arrival on the shared
roster), have a morning and a noon health check, and go home before closing at 18:00
with a registered guardian: a parent, the other guardian or a grandparent. A child with
a fever at the morning check is sent home. Gate and health terminals report every 3
minutes round the clock (the heartbeat). Anomalies (each with probability `anomaly_p`
per working day): a child still there 30+ minutes after closing, and a pick-up by
someone who is not a registered guardian.
"""

from __future__ import annotations

import random
from typing import Literal
from zoneinfo import ZoneInfo

from datasources.base import Event, SchemaError, SystemSpec
from datasources.simkit import SHANGHAI, Day, HourlySimulator, hm, roster, stagger_lists
from datasources.vendorkit import RecordType, VendorFormat, check_range, code, flag
from domain.calendar import HolidayCalendar
from domain.compound import Child, Compound, chinese_name

# --- event schemas ----------------------------------------------------------------------------------

Relation = Literal["father", "mother", "grandparent", "other"]
Health = Literal["normal", "observe", "fever"]
Period = Literal["morning", "noon", "afternoon"]
CheckoutReason = Literal["normal", "sick", "early"]
TerminalKind = Literal["gate", "health_station"]

FEVER_C = 37.3


def check_temperature(value: float, health: str) -> None:
    """Body temperature plausible, and the health verdict not contradicting a fever reading."""
    check_range("temperature_c", value, 34, 42, "°C")
    if value >= FEVER_C and health == "normal":
        raise SchemaError(f"temperature_c {value} °C is a fever (>= {FEVER_C}) but health is 'normal'")


class KindergartenCheckIn(Event, tag="kindergarten.check_in", frozen=True, kw_only=True):
    """A child arrived, brought by a guardian, with the morning health check (晨检)."""

    child_id: str
    class_id: str
    guardian_id: str | None = None
    guardian_name: str
    guardian_phone: str
    relation: Relation
    temperature_c: float
    health: Health = "normal"

    def check(self) -> None:
        check_temperature(self.temperature_c, self.health)


class KindergartenCheckOut(Event, tag="kindergarten.check_out", frozen=True, kw_only=True):
    """A child left; late_min counts minutes after closing time (0 when on time)."""

    child_id: str
    class_id: str
    pickup_id: str | None = None
    pickup_name: str
    pickup_phone: str
    relation: Relation
    registered: bool
    late_min: float = 0.0
    reason: CheckoutReason = "normal"

    def check(self) -> None:
        check_range("late_min", self.late_min, 0, 1440, "min")
        if self.registered and not self.pickup_id:
            raise SchemaError("a registered pick-up needs pickup_id (the guardian's registration)")


class KindergartenHealthCheck(Event, tag="kindergarten.health_check", frozen=True, kw_only=True):
    """A health check during the day (午检, 晚检)."""

    child_id: str
    class_id: str
    period: Period
    temperature_c: float
    result: Health = "normal"

    def check(self) -> None:
        check_temperature(self.temperature_c, self.result)


class KindergartenTerminal(Event, tag="kindergarten.terminal", frozen=True, kw_only=True):
    """A gate or health-station terminal's status, every few minutes round the clock: the heartbeat."""

    terminal_id: str
    kind: TerminalKind
    online: bool


EVENTS: tuple[type[Event], ...] = (KindergartenCheckIn, KindergartenCheckOut, KindergartenHealthCheck,
                                   KindergartenTerminal)


# --- simulator ----------------------------------------------------------------------------------

EXPECTED_INTERVAL_S = 300.0
TERMINAL_PERIOD_S = 180.0
TERMINALS = (("KG-GATE-1", "gate"), ("KG-GATE-2", "gate"), ("KG-HC-1", "health_station"))
ATTENDANCE = 0.92
FEVER_P = 0.007
OPEN_S, CLOSING_S = hm("07:20") * 60.0, hm("18:00") * 60.0
DROP_WEIGHTS = (0.7, 0.2, 0.1)  # parent, other guardian, grandparent
PICK_WEIGHTS = (0.6, 0.25, 0.15)
Guardian = tuple[str | None, str, str, str]  # id, name, phone, relation


class KindergartenSimulator(HourlySimulator):
    """The kindergarten's children, their guardians, and its terminals."""

    system = "kindergarten"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, *, seed: int, rate: float = 1.0,
                 tz: ZoneInfo = SHANGHAI, source: str = "sim.kindergarten", seq_start: int = 0,
                 anomaly_p: float = 0.1):
        super().__init__(compound, calendar, seed=seed, rate=rate, tz=tz, source=source, seq_start=seq_start,
                         anomaly_p=anomaly_p)
        people = {p.id: p for p in compound.people}
        names = random.Random(f"{seed}:kindergarten:guardians")
        self.children: list[Child] = list(compound.children)
        self.guardians: dict[str, tuple[Guardian, ...]] = {}
        for c in self.children:
            staff = tuple((p.id, p.name, p.phone, "father" if p.gender == "男" else "mother")
                          for p in (people[g] for g in c.guardian_ids if g in people))
            grandparent = (f"{c.id}-G3", c.name[0] + chinese_name(names)[1:],
                           f"13{names.randint(0, 10**9 - 1):09d}", "grandparent")
            self.guardians[c.id] = (*staff, grandparent)
        self.period = self.device_period(TERMINAL_PERIOD_S, len(TERMINALS), EXPECTED_INTERVAL_S)

    def start_day(self, day: Day) -> None:
        if not day.working or not self.children:
            return
        rng = self.rng
        r = roster(self.compound, self.calendar, self.seed, day.date)
        index = {p.id: i for i, p in enumerate(self.compound.people)}
        on_site = {i: (a, b) for i, a, b in zip(r.person, r.arrive, r.leave)}
        attending = [c for c in self.children if rng.random() < ATTENDANCE]
        visits = [attending[k % len(attending)] for k in range(round(len(attending) * self.rate))]
        late = rng.randrange(len(visits)) if visits and self.anomaly() else -1
        stranger = rng.randrange(len(visits)) if visits and self.anomaly() else -1
        for k, child in enumerate(visits):
            options = self.guardians[child.id]
            drop = rng.choices(options, DROP_WEIGHTS[:len(options)])[0]
            stay = on_site.get(index.get(drop[0], -1))
            t_in = stay[0] - rng.uniform(5, 20) * 60 if stay else rng.gauss(hm("08:00") * 60, 720)
            t_in = min(hm("08:50") * 60.0, max(OPEN_S, t_in))
            temp = round(min(37.2, max(35.8, rng.gauss(36.6, 0.25))), 1)
            fever = rng.random() < FEVER_P
            if fever:
                temp = round(rng.uniform(FEVER_C, 38.6), 1)
            self.emit(day.t0 + t_in, KindergartenCheckIn, dict(
                child_id=child.id, class_id=child.class_id, guardian_id=drop[0], guardian_name=drop[1],
                guardian_phone=drop[2], relation=drop[3], temperature_c=temp,
                health="fever" if fever else "observe" if temp >= 37.0 else "normal"))
            if fever:
                self._check_out(day.t0 + t_in + rng.uniform(20, 60) * 60, child, drop, 0.0, "sick")
                continue
            noon = round(min(37.2, max(35.8, rng.gauss(36.6, 0.2))), 1)
            self.emit(day.at("12:00") + rng.uniform(0, 2400), KindergartenHealthCheck, dict(
                child_id=child.id, class_id=child.class_id, period="noon", temperature_c=noon,
                result="observe" if noon >= 37.0 else "normal"))
            pick = rng.choices(options, PICK_WEIGHTS[:len(options)])[0]
            stay = on_site.get(index.get(pick[0], -1))
            t_out = stay[1] if stay else rng.gauss(hm("17:30") * 60, 900)
            t_out = min(CLOSING_S - 60, max(hm("16:30") * 60.0, t_out))
            if k == stranger:
                pick = (None, chinese_name(rng), f"1{rng.choice('3589')}{rng.randint(0, 10**9 - 1):09d}", "other")
            if k == late:
                t_out = CLOSING_S + rng.uniform(35, 75) * 60
            self._check_out(day.t0 + t_out, child, pick, max(0.0, (t_out - CLOSING_S) / 60), "normal")

    def _check_out(self, t: float, child: Child, pick: Guardian, late_min: float, reason: str) -> None:
        registered = pick[0] is not None and pick in self.guardians[child.id]
        self.emit(t, KindergartenCheckOut, dict(
            child_id=child.id, class_id=child.class_id, pickup_id=pick[0], pickup_name=pick[1], pickup_phone=pick[2],
            relation=pick[3], registered=registered, late_min=round(late_min, 1), reason=reason))

    def hour(self, day: Day, t0: float, t1: float) -> None:
        times, at = stagger_lists(t0, t1, self.period, len(TERMINALS))
        self.emit_rows(times, KindergartenTerminal, [(*TERMINALS[i], True) for i in at])


# --- connectors ----------------------------------------------------------------------------------

# Connectors for the kindergarten's attendance system (园所考勤, vendor field names in pinyin).
#
# | vendor field | event field | notes |
# |---|---|---|
# | lx (类型) | (schema) | RY check-in, LY check-out, JC health check, ZD terminal status |
# | jlbh (记录编号) | key | the system's record id; key = make_key(sj, hash(jlbh)) |
# | sj (时间) | ts | "2025-03-03 08:15:00", local time |
# | lsh (流水号) | seq | the system's running serial number |
# | yebh, bj (幼儿编号, 班级) | child_id, class_id | RY, LY, JC |
# | jzbh, jzxm, jzdh (家长) | guardian_id / pickup_id, guardian_name / pickup_name, ..._phone | RY, LY |
# | gx (关系) | relation | RY, LY; BB father, MM mother, ZF grandparent, QT other |
# | tw, jkzt (体温, 健康状态) | temperature_c, health / result | RY, JC; ZC normal, GC observe, FR fever |
# | sfdj (是否登记) | registered | LY; 1/0, 是/否 |
# | csfz, lyyy (超时分钟, 离园原因) | late_min, reason | LY; ZC normal, BJ sick, TQ early |
# | jcsd (检查时段) | period | JC; ZJ morning, WJ noon, XJ afternoon |
# | zdbh, zdlx, zx (终端, 类型, 在线) | terminal_id, kind, online | ZD; MJ gate, JK health station |

RELATIONS = {"BB": "father", "MM": "mother", "ZF": "grandparent", "QT": "other"}
HEALTH = {"ZC": "normal", "GC": "observe", "FR": "fever"}
REASONS = {"ZC": "normal", "BJ": "sick", "TQ": "early"}
PERIODS = {"ZJ": "morning", "WJ": "noon", "XJ": "afternoon"}
TERMINAL_KINDS = {"MJ": "gate", "JK": "health_station"}

_CHILD = {"child_id": "yebh", "class_id": "bj"}

FORMAT = VendorFormat(
    system="kindergarten", type_field="lx", id_field="jlbh", time_field="sj", seq_field="lsh",
    types={
        "RY": RecordType(KindergartenCheckIn, {
            **_CHILD, "guardian_id": "jzbh", "guardian_name": "jzxm", "guardian_phone": "jzdh",
            "relation": code("gx", RELATIONS), "temperature_c": "tw", "health": code("jkzt", HEALTH),
        }),
        "LY": RecordType(KindergartenCheckOut, {
            **_CHILD, "pickup_id": "jzbh", "pickup_name": "jzxm", "pickup_phone": "jzdh",
            "relation": code("gx", RELATIONS), "registered": flag("sfdj"), "late_min": "csfz",
            "reason": code("lyyy", REASONS),
        }),
        "JC": RecordType(KindergartenHealthCheck, {
            **_CHILD, "period": code("jcsd", PERIODS), "temperature_c": "tw", "result": code("jkzt", HEALTH),
        }),
        "ZD": RecordType(KindergartenTerminal, {
            "terminal_id": "zdbh", "kind": code("zdlx", TERMINAL_KINDS), "online": flag("zx"),
        }),
    },
)


SPEC = SystemSpec(
    name="kindergarten", title_zh="机关幼儿园", title_en="Kindergarten", events=EVENTS,
    expected_interval_s=EXPECTED_INTERVAL_S, make_simulator=KindergartenSimulator, connectors=FORMAT.connectors(),
)
