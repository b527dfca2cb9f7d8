"""Simulator of the smart canteen: diners from the day's roster queue at windows and pay.

Each open window is a FIFO queue: a diner's settlement comes when the window has served
everyone ahead of them, so queue snapshots and estimated waits follow from the same arrivals
as meals and revenue. Lunch peaks 11:45-12:15 (DOMAIN.md); on days off only the first canteen
serves duty staff. Kitchen cameras report every 5 minutes, staggered: the heartbeat.
Anomalies (probability `anomaly_p`): a slow window for the day (queue over 30), a missing or
light food sample, a kitchen camera offline for a while.
"""

from __future__ import annotations

import bisect
import datetime as dt
from decimal import Decimal
from typing import Any

from datasources.canteen.schemas import (
    CanteenCameraStatus,
    CanteenOrder,
    CanteenQueue,
    CanteenSample,
    CanteenSettlement,
    Dish,
)
from datasources.simkit import Bump, Day, HourlySimulator, copies, curve, hm, rng_for, roster, ticks
from domain.calendar import HolidayCalendar
from domain.compound import Compound, chinese_name

EXPECTED_INTERVAL_S = 60.0
SNAPSHOT_S = 30.0
CAMERA_S = 300.0
MEALS = {"breakfast": ("07:00", "08:30"), "lunch": ("11:30", "13:00"), "dinner": ("17:30", "19:00")}
LUNCH = curve(Bump("12:00", 16.0, lo="11:30", hi="13:00"))
OPEN_WINDOWS = {"breakfast": (4, 1), "lunch": (99, 3), "dinner": (3, 2)}  # (working day, day off)
TRAY_WINDOWS = 2  # at lunch and dinner the first windows of a canteen are smart-tray buffet lines
SERVICE_S = {"tray": 10.0, "face": 12.0, "card": 15.0}
BREAKFAST_SPEED = 0.7  # grab-and-go
FACE_SHARE = 0.55
COUNTER_MEAN_S = FACE_SHARE * SERVICE_S["face"] + (1 - FACE_SHARE) * SERVICE_S["card"]
SLOW_FACTOR = 4.0
ORDER_SHARE = 0.08


def _menu(rows: str) -> tuple[Dish, ...]:
    return tuple(Dish(dish_id=i, name=n, price=Decimal(p)) for i, n, p in (r.split(":") for r in rows.split()))


BREAKFAST = _menu("D101:小米粥:1.00 D102:豆浆:1.50 D103:肉包:1.50 D104:菜包:1.00 D105:油条:1.50 D106:茶叶蛋:1.00 "
                  "D107:鸡蛋饼:3.00 D108:馄饨:5.00 D109:牛肉面:8.00 D110:咸菜:0.50")
MAINS = _menu("D201:红烧肉:12.00 D202:宫保鸡丁:10.00 D203:鱼香肉丝:9.00 D204:糖醋里脊:11.00 D205:清蒸鲈鱼:15.00 "
              "D206:土豆牛腩:14.00 D207:番茄炒蛋:6.00 D208:麻婆豆腐:5.00 D209:回锅肉:10.00 D210:水煮肉片:12.00 "
              "D211:红烧排骨:15.00 D212:黄焖鸡:12.00")
SIDES = _menu("D301:清炒时蔬:4.00 D302:凉拌黄瓜:3.00 D303:酸辣土豆丝:4.00 D304:蒜蓉西兰花:5.00 D305:干煸豆角:5.00 "
              "D306:地三鲜:6.00")
STAPLES = _menu("D401:米饭:1.00 D402:馒头:0.50")
EXTRAS = _menu("D403:紫菜蛋花汤:2.00 D404:水果:3.00")


class CanteenSimulator(HourlySimulator):
    system = "canteen"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, **kwargs: Any):
        super().__init__(compound, calendar, **kwargs)
        c = self.compound
        self.canteens = [ct.id for ct in c.canteens]
        self.home = {b.id: (0 if i < len(c.buildings) // 2 else 1) % max(1, len(c.canteens))
                     for i, b in enumerate(c.buildings)}
        self.unit_home = {u.id: self.home[u.building_id] for u in c.units}
        self.windows = [[w.id for w in ct.windows] for ct in c.canteens]
        by_building = {ct.building_id: ct.id for ct in c.canteens}
        self.cameras = [(cam.id, by_building[cam.building_id]) for cam in c.cameras
                        if cam.kind == "kitchen" and cam.building_id in by_building]
        staff = rng_for(self.seed, self.system, "staff")
        self.cooks = {ct: chinese_name(staff) for ct in self.canteens}

    def start_day(self, day: Day) -> None:
        rng, d = self.rng, day.date.strftime("%Y%m%d")
        self.txn = 0
        open_idx = 0 if day.working else 1
        self.open = {(ci, meal): (ws[:OPEN_WINDOWS[meal][open_idx]] if day.working or ci == 0 else [])
                     for ci, ws in enumerate(self.windows) for meal in MEALS}
        self.queue = {w: ([], []) for ws in self.windows for w in ws}  # arrivals, completions
        self.free_at = dict.fromkeys(self.queue, 0.0)
        self.slow = {w for w in self.queue if self.anomaly()}
        self.menu = {}
        for ci in range(len(self.windows)):
            self.menu[ci, "breakfast"] = {"all": rng.sample(BREAKFAST, 7)}
            for meal, k in (("lunch", 6), ("dinner", 4)):
                self.menu[ci, meal] = {"main": rng.sample(MAINS, k), "side": rng.sample(SIDES, k - 2),
                                       "staple": list(STAPLES), "extra": list(EXTRAS)}
        self.diners = self._plan_diners(day, d)
        self.next_diner = 0
        self._plan_samples(day, d)
        self.outage = {}
        for cam, _ct in self.cameras:
            if self.anomaly():
                s = rng.uniform(day.t0, day.t1 - 3600)
                self.outage[cam] = (s, s + rng.uniform(20, 90) * 60)

    def _plan_diners(self, day: Day, d: str) -> list[tuple]:
        rng, rate, people = self.rng, self.rate, self.compound.people
        r = roster(self.compound, self.calendar, self.seed, day.date)
        b0, b1 = hm("07:00") * 60, hm("08:30") * 60
        plan = []
        for p, a, leave in zip(r.person, r.arrive, r.leave):
            person = people[p]
            ci = self.unit_home[person.unit_id] if rng.random() < 0.85 else rng.randrange(len(self.windows))
            if not self.open[ci, "lunch"]:
                ci = 0
            meals = []
            if a < b1 - 600 and rng.random() < 0.45:
                meals.append(("breakfast", rng.uniform(max(b0, a + 60), min(b1, a + 2400))))
            if a < 12.5 * 3600 and leave > 12.25 * 3600 and rng.random() < person.eats_lunch_p:
                meals.append(("lunch", min(max(LUNCH.sample(rng), a + 60), leave - 60)))
            if leave > 18.5 * 3600 and rng.random() < 0.6:
                meals.append(("dinner", rng.uniform(hm("17:30") * 60, min(hm("19:00") * 60, leave - 600))))
            for meal, t in meals:
                if not self.open[ci, meal]:
                    continue
                for k in range(copies(rng, rate)):
                    tk = day.t0 + t + (rng.uniform(-90, 90) if k else 0.0)
                    order = None
                    if meal == "lunch" and rng.random() < ORDER_SHARE:
                        order = self._order(day, d, ci, p, tk)
                    plan.append((tk, ci, p, meal, order))
        plan.sort(key=lambda x: x[0])
        return plan

    def _order(self, day: Day, d: str, ci: int, p: int, pickup: float) -> tuple[str, tuple[Dish, ...], Decimal]:
        self.txn += 1
        order_id = f"DC{d}{self.txn:06d}"
        items = self._tray(ci, "lunch")
        amount = sum((i.price * i.qty for i in items), Decimal(0))
        person = self.compound.people[p]
        placed = min(pickup - 600, day.t0 + self.rng.uniform(hm("08:30"), hm("11:15")) * 60)
        self.emit(placed, CanteenOrder, {
            "order_id": order_id, "person_id": person.id, "unit_id": person.unit_id,
            "canteen_id": self.canteens[ci], "meal": "lunch", "items": items, "amount": amount,
            "pickup": "takeaway" if self.rng.random() < 0.3 else "dine_in",
            "pickup_at": dt.datetime.fromtimestamp(round(pickup), self.tz),
        })
        return order_id, items, amount

    def _tray(self, ci: int, meal: str) -> tuple[Dish, ...]:
        rnd, menu = self.rng.random, self.menu[ci, meal]
        if meal == "breakfast":
            dishes = menu["all"]
            first = int(rnd() * len(dishes))
            return (dishes[first], dishes[first - 1]) if rnd() < 0.6 else (dishes[first],)
        mains, sides = menu["main"], menu["side"]
        first = int(rnd() * len(mains))
        items = [mains[first], mains[first - 1]] if rnd() < 0.25 else [mains[first]]
        if rnd() < 0.6:
            items.append(sides[int(rnd() * len(sides))])
        items.append(menu["staple"][0] if rnd() < 0.7 else menu["staple"][1])
        if rnd() < 0.3:
            items.append(menu["extra"][int(rnd() * 2)])
        return tuple(items)

    def _plan_samples(self, day: Day, d: str) -> None:
        rng, n = self.rng, 0
        for ci, ct in enumerate(self.canteens):
            for meal, (start, _end) in MEALS.items():
                if not self.open[ci, meal]:
                    continue
                dishes = [x for group in self.menu[ci, meal].values() for x in group]
                skip = rng.choice(dishes) if self.anomaly() else None
                light = self.anomaly()
                for dish in dishes:
                    if dish is skip:
                        continue
                    n += 1
                    t = day.at(start) + rng.uniform(10, 50) * 60
                    self.emit(t, CanteenSample, {
                        "sample_id": f"LY{d}{n:04d}", "canteen_id": ct, "meal": meal, "dish_id": dish.dish_id,
                        "dish_name": dish.name, "weight_g": round(rng.uniform(80, 120) if light else
                                                                  rng.uniform(130, 190), 1),
                        "fridge_temp_c": round(rng.uniform(0.5, 4.5), 1),
                        "keep_until": dt.datetime.fromtimestamp(round(t + 48 * 3600 + rng.uniform(0, 7200)), self.tz),
                        "operator": self.cooks[ct],
                    })

    def hour(self, day: Day, t0: float, t1: float) -> None:
        self._serve(day, t1)
        self._snapshots(day, t0, t1)
        period = self.device_period(CAMERA_S)
        gauss = self.rng.gauss
        for i, (cam, ct) in enumerate(self.cameras):
            off = self.outage.get(cam)
            times = list(ticks(t0, t1, period, i * period / len(self.cameras)))
            up = [off is None or not off[0] <= t < off[1] for t in times]
            self.emit_rows(times, CanteenCameraStatus, [
                (cam, ct, online, round(gauss(2048, 120), 1) if online else None) for online in up])

    def _serve(self, day: Day, t1: float) -> None:
        rng, people, d = self.rng, self.compound.people, day.date.strftime("%Y%m%d")
        plan, i = self.diners, self.next_diner
        while i < len(plan) and plan[i][0] < t1:
            t, ci, p, meal, order = plan[i]
            i += 1
            windows = self.open[ci, meal]
            k = rng.randrange(len(windows))
            w = windows[k]
            method = "tray" if _tray_line(k, meal) else ("face" if rng.random() < FACE_SHARE else "card")
            service = SERVICE_S[method] * rng.uniform(0.6, 1.4) * self._speed(w, meal)
            done = max(t, self.free_at[w]) + service
            self.free_at[w] = done
            arrived, completed = self.queue[w]
            arrived.append(t)
            completed.append(done)
            items, amount = (order[1], order[2]) if order else (None, None)
            if items is None:
                items = self._tray(ci, meal)
                amount = sum((x.price * x.qty for x in items), Decimal(0))
            person = people[p]
            self.txn += 1
            self.emit(done, CanteenSettlement, {
                "txn_id": f"XF{d}{self.txn:06d}", "person_id": person.id, "unit_id": person.unit_id,
                "canteen_id": self.canteens[ci], "window_id": w, "meal": meal, "method": method,
                "items": items, "amount": amount, "card_no": person.card_no if method == "card" else None,
                "order_id": order[0] if order else None,
            })
        self.next_diner = i

    def _speed(self, window: str, meal: str) -> float:
        """Service-time factor of a window: breakfast is quicker, a faulty window slower, load tests faster."""
        return ((BREAKFAST_SPEED if meal == "breakfast" else 1.0) * (SLOW_FACTOR if window in self.slow else 1.0)
                / self.rate)

    def _snapshots(self, day: Day, t0: float, t1: float) -> None:
        period = self.device_period(SNAPSHOT_S)
        for meal, (start, end) in MEALS.items():
            lo, hi = max(t0, day.at(start) - 600), min(t1, day.at(end) + 900)
            if lo >= hi:
                continue
            for ci, ct in enumerate(self.canteens):
                for k, w in enumerate(self.open[ci, meal]):
                    arrived, completed = self.queue[w]
                    mean = self._speed(w, meal) * (SERVICE_S["tray"] if _tray_line(k, meal) else COUNTER_MEAN_S)
                    times = list(ticks(lo, hi, period, k * period / 17))
                    queued = [bisect.bisect_right(arrived, t) - bisect.bisect_right(completed, t) for t in times]
                    self.emit_rows(times, CanteenQueue, [(ct, w, q, round(q * mean / 60, 1), True) for q in queued])


def _tray_line(k: int, meal: str) -> bool:
    return k < TRAY_WINDOWS and meal != "breakfast"


def make_simulator(compound: Compound, calendar: HolidayCalendar, **kwargs: Any) -> CanteenSimulator:
    """The canteen simulator; keyword arguments as HourlySimulator (seed, rate, tz, source, seq_start, anomaly_p)."""
    return CanteenSimulator(compound, calendar, **kwargs)
