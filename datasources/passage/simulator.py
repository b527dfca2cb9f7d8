"""Simulator of smart passage: the day's roster through the gates, visitors and vehicles.

Staff pass their usual pedestrian gate in the morning and out in the evening (peaks 08:00-09:00
and 17:30-18:30), some go out for lunch or an errand; a quarter drive in, through a vehicle
gate and a garage gate. Visitors apply for a pass the day before or the same morning, the host
approves, and they come through with a QR code, some by car. Delivery vehicles come in the
early morning. Every in has its out the same day, so people and vehicles on site return to
zero overnight. Gates report every 10 minutes, staggered: the heartbeat.
Anomalies (probability `anomaly_p`): a gate offline (locked) for a while, someone entering at
night, an unknown face tried several times, a blacklisted plate.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from datasources.passage.schemas import PassageGate, PassagePerson, PassageVehicle, PassageVisitor
from datasources.simkit import Bump, Day, HourlySimulator, copies, curve, hm, poisson, rng_for, roster, ticks
from domain.calendar import HolidayCalendar
from domain.compound import Compound, chinese_name, fake_id_card

EXPECTED_INTERVAL_S = 60.0
GATE_S = 600.0
GARAGE_GATES = 3  # the last pedestrian gates lead to the underground garage
METHODS = ("face", "card", "qr")
VISITS_PER_DAY = 150.0
DELIVERIES_PER_DAY = 30.0
VISIT_TIMES = curve(Bump("09:30", 60, 0.6, "08:30", "11:30"), Bump("14:30", 45, 0.4, "13:30", "16:30"))
PURPOSES = ("公务洽谈", "会议", "办事", "送达文件", "设备维修", "调研")
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


class PassageSimulator(HourlySimulator):
    system = "passage"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, **kwargs: Any):
        super().__init__(compound, calendar, **kwargs)
        c = self.compound
        self.person_gates = [g.id for g in c.gates if g.kind == "person"]
        self.vehicle_gates = [g.id for g in c.gates if g.kind == "vehicle"]
        self.walk_gates = self.person_gates[:-GARAGE_GATES] or self.person_gates
        self.garage_gates = self.person_gates[-GARAGE_GATES:]
        prefs = rng_for(self.seed, self.system, "staff")
        self.method = [prefs.choices(METHODS, (55, 30, 15))[0] for _ in c.people]
        self.gate = [prefs.randrange(len(self.walk_gates)) for _ in c.people]
        self.plate = [_plate(prefs) if prefs.random() < 0.25 else None for _ in c.people]
        self.visits: dict[str, dict[str, Any]] = {}
        self.planned: list[tuple[float, Any, tuple[Any, ...]]] | None = None  # tomorrow's visits, planned today

    def start_day(self, day: Day) -> None:
        rng, rate = self.rng, self.rate
        self.d = day.date.strftime("%Y%m%d")
        plan: list[tuple[float, Any, tuple[Any, ...]]] = []
        if self.planned is None:  # the world's first day: its visits were applied for before it began
            self._plan_visits(day, plan, applied=False)
        else:
            plan += self.planned
        yesterday = f"FK{day.date - dt.timedelta(days=1):%Y%m%d}"
        self.visits = {k: v for k, v in self.visits.items() if k[:10] >= yesterday}
        tomorrow = self.day_of(day.date + dt.timedelta(days=1))
        ahead: list[tuple[float, Any, tuple[Any, ...]]] = []
        self._plan_visits(tomorrow, ahead, applied=True)
        plan += [x for x in ahead if x[0] < tomorrow.t0]  # applications and approvals made today
        self.planned = [x for x in ahead if x[0] >= tomorrow.t0]
        r = roster(self.compound, self.calendar, self.seed, day.date)
        for p, a, leave in zip(r.person, r.arrive, r.leave):
            a, leave = day.t0 + a, day.t0 + leave
            for _ in range(copies(rng, rate)):
                if self.plate[p] is not None:
                    gv = rng.choice(self.vehicle_gates)
                    g = rng.choice(self.garage_gates)
                    plan += [(a - rng.uniform(60, 180), self._car, (p, gv, "in")), (a, self._walk, (p, g, "in")),
                             (leave, self._walk, (p, g, "out")),
                             (leave + rng.uniform(60, 240), self._car, (p, gv, "out"))]
                    continue
                home = self.walk_gates[self.gate[p] if rng.random() < 0.8 else rng.randrange(len(self.walk_gates))]
                plan += [(a, self._walk, (p, home, "in")), (leave, self._walk, (p, home, "out"))]
                for share, go, back in ((0.1, ("11:40", "12:10"), (50, 80)), (0.08, ("14:00", "16:00"), (30, 90))):
                    out = day.t0 + rng.uniform(hm(go[0]), hm(go[1])) * 60
                    if rng.random() < share and a < out and out + back[1] * 60 < leave:
                        plan += [(out, self._walk, (p, home, "out")),
                                 (out + rng.uniform(*back) * 60, self._walk, (p, home, "in"))]
        for _ in range(poisson(rng, DELIVERIES_PER_DAY * rate) if day.working else 0):
            t, gv, plate = day.t0 + rng.uniform(6, 10) * 3600, rng.choice(self.vehicle_gates), _plate(rng)
            plan += [(t, self._service, (plate, gv, "in")), (t + rng.uniform(20, 60) * 60, self._service,
                                                             (plate, gv, "out"))]
        self._anomalies(day, plan)
        plan.sort(key=lambda x: x[0])
        self.plan, self.next = plan, 0
        self.outage = {}
        for g in self.person_gates + self.vehicle_gates:
            if self.anomaly():
                s = rng.uniform(day.t0, day.t1 - 7200)
                self.outage[g] = (s, s + rng.uniform(15, 90) * 60)

    def _plan_visits(self, day: Day, plan: list[tuple[float, Any, tuple[Any, ...]]], applied: bool) -> None:
        """Visits of `day`: applications and approvals (when `applied`), then the passes."""
        rng = self.rng
        r = roster(self.compound, self.calendar, self.seed, day.date)
        scale = len(r.person) / max(1, len(self.compound.people)) / 0.92
        hosts = r.person or (0,)
        for n in range(poisson(rng, VISITS_PER_DAY * scale * self.rate)):
            host = self.compound.people[rng.choice(hosts)]
            start = day.t0 + VISIT_TIMES.sample(rng)
            end = start + rng.uniform(0.75, 3) * 3600
            vid = f"FK{day.date:%Y%m%d}{n + 1:05d}"
            phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
            visit = {"visitor_id": vid, "name": chinese_name(rng), "phone": phone,
                     "id_card": fake_id_card(rng), "host_person_id": host.id, "host_unit_id": host.unit_id,
                     "purpose": rng.choice(PURPOSES), "visit_start": _local(start, self.tz),
                     "visit_end": _local(end, self.tz), "plate": _plate(rng) if rng.random() < 0.2 else None,
                     "companions": rng.choice((0, 0, 0, 1, 1, 2))}
            self.visits[vid] = visit
            u = rng.random()
            state = "approved" if u < 0.93 else "rejected" if u < 0.98 else "cancelled"
            if applied:
                asked = start - rng.uniform(1, 20) * 3600
                plan += [(asked, self._visitor, (vid, "applied", None)),
                         (asked + rng.uniform(5, 55) * 60, self._visitor,
                          (vid, state, host.id if state != "cancelled" else None))]
            if state == "approved":
                gate, arrive = rng.choice(self.walk_gates), start + rng.gauss(0, 600)
                leave = end + rng.gauss(0, 600)
                plan += [(arrive, self._guest, (vid, gate, "in")), (leave, self._guest, (vid, gate, "out"))]
                if visit["plate"]:
                    gv = rng.choice(self.vehicle_gates)
                    plan += [(arrive - 120, self._guest_car, (vid, gv, "in")),
                             (leave + 300, self._guest_car, (vid, gv, "out"))]

    def _anomalies(self, day: Day, plan: list[tuple[float, Any, tuple[Any, ...]]]) -> None:
        rng = self.rng
        if self.anomaly():
            p, g, t = rng.randrange(len(self.compound.people)), rng.choice(self.walk_gates), day.at("02:00")
            t += rng.uniform(0, 3) * 3600
            plan += [(t, self._walk, (p, g, "in")), (t + rng.uniform(10, 40) * 60, self._walk, (p, g, "out"))]
        if self.anomaly():
            t, g = day.t0 + rng.uniform(7, 20) * 3600, rng.choice(self.walk_gates)
            plan += [(t + k * rng.uniform(3, 20), self._stranger, (g,)) for k in range(5)]
        if self.anomaly():
            t, gv = day.t0 + rng.uniform(8, 18) * 3600, rng.choice(self.vehicle_gates)
            plan.append((t, self._blacklisted, (_plate(rng), gv)))

    def hour(self, day: Day, t0: float, t1: float) -> None:
        plan, i = self.plan, self.next
        while i < len(plan) and plan[i][0] < t1:
            t, handler, args = plan[i]
            i += 1
            handler(t, *args)
        self.next = i
        gates, period = self.person_gates + self.vehicle_gates, self.device_period(GATE_S)
        for k, g in enumerate(gates):
            off = self.outage.get(g)
            kind = "vehicle" if g in self.vehicle_gates else "person"
            times = list(ticks(t0, t1, period, k * period / len(gates)))
            self.emit_rows(times, PassageGate, [
                (g, kind, True, "normal") if off is None or not off[0] <= t < off[1] else (g, kind, False, "locked")
                for t in times])

    def _walk(self, t: float, p: int, gate: str, direction: str) -> None:
        person, method = self.compound.people[p], self.method[p]
        if method == "face" and self.rng.random() < 0.003:
            # a failed face match, then the retry passes; never earlier than the planned time (the hour's start)
            self.emit(t, PassagePerson, {"gate_id": gate, "direction": direction, "method": "face",
                                         "result": "denied", "reason": "unknown_face"})
            t += 4
        self.emit(t, PassagePerson, {"gate_id": gate, "direction": direction, "method": method,
                                     "person_id": person.id, "card_no": person.card_no if method == "card" else None})

    def _stranger(self, t: float, gate: str) -> None:
        self.emit(t, PassagePerson, {"gate_id": gate, "direction": "in", "method": "face", "result": "denied",
                                     "reason": "unknown_face"})

    def _guest(self, t: float, vid: str, gate: str, direction: str) -> None:
        self.emit(t, PassagePerson, {"gate_id": gate, "direction": direction, "method": "qr", "visitor_id": vid})

    def _car(self, t: float, p: int, gate: str, direction: str) -> None:
        plate = self.plate[p]
        self.emit(t, PassageVehicle, {"gate_id": gate, "direction": direction, "plate": plate,
                                      "plate_color": _color(plate), "vehicle_kind": "staff",
                                      "person_id": self.compound.people[p].id, "confidence": self._score()})

    def _guest_car(self, t: float, vid: str, gate: str, direction: str) -> None:
        plate = self.visits[vid]["plate"]
        self.emit(t, PassageVehicle, {"gate_id": gate, "direction": direction, "plate": plate,
                                      "plate_color": _color(plate), "vehicle_kind": "visitor", "visitor_id": vid,
                                      "confidence": self._score()})

    def _service(self, t: float, plate: str, gate: str, direction: str) -> None:
        self.emit(t, PassageVehicle, {"gate_id": gate, "direction": direction, "plate": plate, "plate_color": "yellow",
                                      "vehicle_kind": "service", "confidence": self._score()})

    def _blacklisted(self, t: float, plate: str, gate: str) -> None:
        self.emit(t, PassageVehicle, {"gate_id": gate, "direction": "in", "plate": plate, "plate_color": _color(plate),
                                      "vehicle_kind": "unknown", "result": "denied", "reason": "blacklisted",
                                      "confidence": self._score()})

    def _visitor(self, t: float, vid: str, state: str, approver: str | None) -> None:
        self.emit(t, PassageVisitor, {**self.visits[vid], "state": state, "approver_id": approver})

    def _score(self) -> float:
        return round(min(1.0, self.rng.uniform(0.9, 1.02)), 3)


def _plate(rng: Any) -> str:
    """A Shandong plate; one in five is a new-energy (green, 8-character) plate."""
    if rng.random() < 0.2:
        return f"鲁A{rng.choice('DF')}{rng.randrange(10**5):05d}"
    return f"鲁{rng.choice('AABCDEFGHJKLMNPQRSUV')}{rng.choice(LETTERS)}{rng.randrange(10**4):04d}"


def _color(plate: str) -> str:
    return "green" if len(plate) == 8 else "blue"


def _local(t: float, tz: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(round(t), tz)


def make_simulator(compound: Compound, calendar: HolidayCalendar, **kwargs: Any) -> PassageSimulator:
    """The passage simulator; keyword arguments as HourlySimulator (seed, rate, tz, source, seq_start, anomaly_p)."""
    return PassageSimulator(compound, calendar, **kwargs)
