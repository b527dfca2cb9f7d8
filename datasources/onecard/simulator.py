"""Simulator of the one-card platform: door swipes and merchant payments by the day's roster.

Staff swipe their building's door after passing the gate, again after lunch and now and then
at another building; they pay at the shop, cafe, barber and laundry while on site. Card
balances carry across days: a payment larger than the balance is refused ("insufficient")
and usually followed by a recharge. A lost card is refused at doors until it is replaced,
then the new number is used. Terminals report every 10 minutes, staggered: the heartbeat.
Anomalies (probability `anomaly_p`): a terminal offline for a while, night swipes by staff
and a burst of refused swipes by an unknown card.
"""

from __future__ import annotations

import bisect
from decimal import Decimal
from typing import Any

from datasources.onecard.schemas import OnecardCard, OnecardDoor, OnecardPayment, OnecardRecharge, OnecardTerminal
from datasources.simkit import Bump, Day, HourlySimulator, copies, curve, hm, poisson, roster, ticks
from domain.calendar import HolidayCalendar
from domain.compound import Compound

EXPECTED_INTERVAL_S = 60.0
TERMINAL_S = 600.0
# merchant -> (building, POS count, payments per working day, opening-hours curve, prices or None for the shop)
MERCHANTS: dict[str, tuple[str, int, float, Any, tuple[int, ...] | None]] = {
    "shop": ("B01", 2, 350.0, curve(Bump("12:40", 25, 1.0, "09:00", "19:00"), Bump("17:40", 30, 0.8, "09:00", "19:00"),
                                    Bump("14:00", 180, 0.8, "09:00", "19:00")), None),
    "cafe": ("B03", 1, 200.0, curve(Bump("10:00", 60, 1.0, "08:30", "17:00"), Bump("14:30", 60, 1.0, "08:30", "17:00")),
             (12, 15, 18, 22, 25, 28)),
    "barber": ("B05", 1, 25.0, curve(Bump("12:30", 40, 1.0, "11:00", "14:00")), (15, 20, 25, 30)),
    "laundry": ("B08", 1, 30.0, curve(Bump("12:00", 150, 1.0, "08:00", "18:00")), (8, 10, 15, 20, 35)),
}
RECHARGES = curve(Bump("12:30", 150, 1.0, "08:30", "17:30"))
RECHARGES_PER_DAY = 60.0
LOSSES_PER_DAY = 2.0
TOPUPS = (100, 200, 300, 500)


class OnecardSimulator(HourlySimulator):
    system = "onecard"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, **kwargs: Any):
        super().__init__(compound, calendar, **kwargs)
        c = self.compound
        self.home = {u.id: u.building_id for u in c.units}
        self.buildings = [b.id for b in c.buildings]
        self.terminals: list[tuple[str, str, str | None]] = [
            (f"D-{b}-{k}", "door", b) for b in self.buildings for k in (1, 2)]
        for m, (b, n, *_rest) in MERCHANTS.items():
            self.terminals += [(f"POS-{m.upper()}-{k + 1}", "pos", b) for k in range(n)]
        self.terminals += [(f"KIOSK-{k + 1}", "kiosk", "B01") for k in range(3)] + [("CNT-1", "counter", "B01")]
        self.card = {i: p.card_no for i, p in enumerate(c.people)}
        self.balance: dict[int, int] = {}  # cents
        self.n = 0

    def start_day(self, day: Day) -> None:
        rng, rate = self.rng, self.rate
        self.d = day.date.strftime("%Y%m%d")
        r = roster(self.compound, self.calendar, self.seed, day.date)
        self.present = list(zip(r.person, r.arrive, r.leave))
        plan: list[tuple[float, str, int, Any]] = []
        for p, a, leave in self.present:
            home = self.home[self.compound.people[p].unit_id]
            swipes = [(a + rng.uniform(120, 420), home)]
            if a < hm("12:00") * 60 < leave and rng.random() < 0.6:
                swipes.append((rng.uniform(hm("12:20"), hm("13:10")) * 60, home))
            for share in (0.5, 0.2):
                if rng.random() < share:
                    swipes.append((rng.uniform(a + 1800, max(a + 1801, leave - 600)), rng.choice(self.buildings)))
            for t, b in swipes:
                if t < leave:
                    plan += [(day.t0 + t + k * rng.uniform(5, 60), "door", p, b) for k in range(copies(rng, rate))]
        scale = len(self.present) / max(1, len(self.compound.people)) / 0.92
        for m, (_b, n, per_day, shape, _prices) in MERCHANTS.items():
            for t in shape.arrivals(rng, per_day * scale * rate, 0, 86400):
                p = self._someone(t)
                if p is not None:
                    plan.append((day.t0 + t, "pay", p, (m, rng.randrange(n))))
        for t in RECHARGES.arrivals(rng, RECHARGES_PER_DAY * scale * rate, 0, 86400):
            p = self._someone(t)
            if p is not None:
                plan.append((day.t0 + t, "recharge", p, rng.choice(("counter", "kiosk", "app", "app"))))
        for _ in range(poisson(rng, LOSSES_PER_DAY * scale * rate) if day.working else 0):
            p = self._someone(rng.uniform(hm("09:00"), hm("16:00")) * 60)
            t = rng.uniform(hm("08:00"), hm("12:00")) * 60
            if p is not None:
                plan += [(day.t0 + t, "loss", p, None), (day.t0 + t + rng.uniform(1, 5) * 3600, "replace", p, None)]
        self.lost: dict[int, bool] = {}
        self._anomalies(day, plan)
        plan.sort(key=lambda x: x[0])
        self.plan, self.next = plan, 0
        self.outage = {}
        for tid, _kind, _b in self.terminals:
            if self.anomaly():
                s = rng.uniform(day.t0, day.t1 - 7200)
                self.outage[tid] = (s, s + rng.uniform(30, 120) * 60)

    def _someone(self, t: float) -> int | None:
        """A person on site at t seconds after midnight, if one is found quickly."""
        for _ in range(6):
            if not self.present:
                return None
            p, a, leave = self.present[int(self.rng.random() * len(self.present))]
            if a <= t < leave:
                return p
        return None

    def _anomalies(self, day: Day, plan: list[tuple[float, str, int, Any]]) -> None:
        rng = self.rng
        if self.anomaly():
            p = rng.randrange(len(self.compound.people))
            plan.append((day.t0 + rng.uniform(1, 4.5) * 3600, "door", p, self.home[self.compound.people[p].unit_id]))
        if self.anomaly():
            t, card = day.t0 + rng.uniform(0.5, 5) * 3600, str(rng.randrange(10**9, 10**10))
            b = rng.choice(self.buildings)
            plan += [(t + k * rng.uniform(5, 30), "stranger", -1, (card, b)) for k in range(5)]

    def hour(self, day: Day, t0: float, t1: float) -> None:
        plan, i = self.plan, self.next
        while i < len(plan) and plan[i][0] < t1:
            t, kind, p, extra = plan[i]
            i += 1
            getattr(self, "_" + kind)(day, t, p, extra)
        self.next = i
        period = self.device_period(TERMINAL_S)
        for k, (tid, kind, b) in enumerate(self.terminals):
            off = self.outage.get(tid)
            times = list(ticks(t0, t1, period, k * period / len(self.terminals)))
            if off is None:
                self.emit_rows(times, OnecardTerminal, [(tid, kind, b, True, 0)] * len(times))
                continue
            self.emit_rows(times, OnecardTerminal, [
                (tid, kind, b, False, int((t - off[0]) // 180)) if off[0] <= t < off[1] else (tid, kind, b, True, 0)
                for t in times])

    def _door(self, day: Day, t: float, p: int, building: str) -> None:
        person, rng = self.compound.people[p], self.rng
        local = t - day.t0
        if self.lost.get(p):
            reason = "lost_card"
        elif local < hm("06:00") * 60 or local > hm("23:00") * 60:
            reason = "out_of_hours"
        elif building != self.home[person.unit_id] and rng.random() < 0.03:
            reason = "no_permission"
        else:
            reason = "expired" if rng.random() < 0.001 else None
        self.emit(t, OnecardDoor, {"card_no": self.card[p], "person_id": person.id,
                                   "door_id": f"D-{building}-{1 + (rng.random() < 0.4)}", "building_id": building,
                                   "result": "denied" if reason else "granted", "reason": reason})

    def _stranger(self, day: Day, t: float, p: int, extra: tuple[str, str]) -> None:
        card, building = extra
        self.emit(t, OnecardDoor, {"card_no": card, "person_id": None, "door_id": f"D-{building}-1",
                                   "building_id": building, "result": "denied", "reason": "unknown_card"})

    def _cents(self, p: int) -> int:
        if p not in self.balance:
            self.balance[p] = self.rng.randrange(20, 600) * 100
        return self.balance[p]

    def _txn(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.d}{self.n:08d}"

    def _pay(self, day: Day, t: float, p: int, extra: tuple[str, int]) -> None:
        merchant, pos = extra
        prices, rng = MERCHANTS[merchant][4], self.rng
        cents = rng.choice(prices) * 100 if prices else min(30000, max(100, round(rng.lognormvariate(7.3, 0.7))))
        balance = self._cents(p)
        if self.lost.get(p):
            result = "blacklisted"
        elif cents > balance:
            result = "insufficient"
            if rng.random() < 0.8:
                bisect.insort(self.plan, (t + rng.uniform(300, 3600), "recharge", p, rng.choice(("kiosk", "app"))),
                              lo=self.next, key=lambda x: x[0])
        else:
            result = "ok"
            balance = self.balance[p] = balance - cents
        self.emit(t, OnecardPayment, {"txn_id": self._txn("XF"), "card_no": self.card[p],
                                      "person_id": self.compound.people[p].id,
                                      "terminal_id": f"POS-{merchant.upper()}-{pos + 1}", "merchant": merchant,
                                      "amount": _yuan(cents), "balance": _yuan(balance), "result": result})

    def _recharge(self, day: Day, t: float, p: int, channel: str) -> None:
        cents = self.rng.choice(TOPUPS) * 100
        self.balance[p] = balance = self._cents(p) + cents
        terminal = {"counter": "CNT-1", "kiosk": f"KIOSK-{self.rng.randrange(3) + 1}", "app": "APP"}[channel]
        self.emit(t, OnecardRecharge, {"txn_id": self._txn("CZ"), "card_no": self.card[p],
                                       "person_id": self.compound.people[p].id, "terminal_id": terminal,
                                       "channel": channel, "amount": _yuan(cents), "balance": _yuan(balance)})

    def _loss(self, day: Day, t: float, p: int, extra: None) -> None:
        self.lost[p] = True
        self.emit(t, OnecardCard, {"card_no": self.card[p], "person_id": self.compound.people[p].id,
                                   "action": "loss", "terminal_id": "APP"})

    def _replace(self, day: Day, t: float, p: int, extra: None) -> None:
        old, new = self.card[p], str(self.rng.randrange(10**9, 10**10))
        self.card[p], self.lost[p] = new, False
        self.emit(t, OnecardCard, {"card_no": old, "person_id": self.compound.people[p].id, "action": "replace",
                                   "new_card_no": new, "terminal_id": "CNT-1"})


def _yuan(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def make_simulator(compound: Compound, calendar: HolidayCalendar, **kwargs: Any) -> OnecardSimulator:
    """The one-card simulator; keyword arguments as HourlySimulator (seed, rate, tz, source, seq_start, anomaly_p)."""
    return OnecardSimulator(compound, calendar, **kwargs)
