"""Property management (智慧物业): call-centre work orders (created, dispatched, accepted, done,
rated) and guard patrols.

Schemas: each step of a work order repeats the order's category (and, when done, its
priority and SLA), so live counts by status and on-time rates come from single events.

Simulator: staff on site (the shared roster) call in about 80 work orders on a working
day, a few on days off; each order is dispatched, accepted and done within its
category's SLA most of the time, and about 70 % are rated. Follow-ups land hours later,
possibly the next day. Guards scan 12 checkpoints per building every hour round the
clock, the source's heartbeat. Anomaly (probability `anomaly_p` per day): an urgent
repair that misses both its acceptance and its completion SLA.
"""

from __future__ import annotations

import random
from typing import Literal
from zoneinfo import ZoneInfo

from datasources.base import Event, SchemaError, SystemSpec
from datasources.simkit import SHANGHAI, Curve, Day, HourlySimulator, roster, stagger_lists
from datasources.vendorkit import RecordType, VendorFormat, check_range, code
from domain.calendar import HolidayCalendar
from domain.compound import Compound, Person, chinese_name

# --- event schemas ----------------------------------------------------------------------------------

Category = Literal["repair", "cleaning", "water_electricity", "meeting_service"]
Priority = Literal["normal", "urgent"]
Channel = Literal["phone", "app", "wechat", "walk_in"]
PatrolResult = Literal["normal", "abnormal"]


class PropertyOrderCreated(Event, tag="property.order_created", frozen=True, kw_only=True):
    """A work order logged by the call centre, with where, who asked, and its SLA in minutes."""

    order_id: str
    category: Category
    priority: Priority = "normal"
    building_id: str
    floor: int
    room_id: str | None = None
    requester_id: str | None = None
    requester_name: str
    requester_phone: str
    unit_id: str | None = None
    channel: Channel
    description: str
    sla_accept_min: int
    sla_done_min: int

    def check(self) -> None:
        check_range("floor", self.floor, -5, 200)
        check_range("sla_accept_min", self.sla_accept_min, 1, 10_080, "min")
        check_range("sla_done_min", self.sla_done_min, 1, 43_200, "min")
        if self.sla_done_min < self.sla_accept_min:
            raise SchemaError(f"sla_done_min {self.sla_done_min} is shorter than sla_accept_min {self.sla_accept_min}")
        if not self.requester_phone.replace("-", "").isdigit():
            raise SchemaError(f"requester_phone {self.requester_phone!r} must be digits (and dashes)")


class PropertyOrderDispatched(Event, tag="property.order_dispatched", frozen=True, kw_only=True):
    """The call centre assigned the order to a property worker."""

    order_id: str
    category: Category
    assignee_id: str
    assignee_name: str
    assignee_phone: str = ""


class PropertyOrderAccepted(Event, tag="property.order_accepted", frozen=True, kw_only=True):
    """The worker accepted the order; wait_min counts from creation, against sla_accept_min."""

    order_id: str
    category: Category
    assignee_id: str
    wait_min: float
    sla_accept_min: int

    def check(self) -> None:
        check_range("wait_min", self.wait_min, 0, 43_200, "min")
        check_range("sla_accept_min", self.sla_accept_min, 1, 10_080, "min")


class PropertyOrderDone(Event, tag="property.order_done", frozen=True, kw_only=True):
    """The order is done; duration_min counts from creation, against sla_done_min."""

    order_id: str
    category: Category
    priority: Priority = "normal"
    assignee_id: str
    duration_min: float
    sla_done_min: int

    def check(self) -> None:
        check_range("duration_min", self.duration_min, 0, 129_600, "min")
        check_range("sla_done_min", self.sla_done_min, 1, 43_200, "min")


class PropertyOrderRated(Event, tag="property.order_rated", frozen=True, kw_only=True):
    """The requester's rating of a done order."""

    order_id: str
    category: Category
    satisfaction: int
    comment: str = ""

    def check(self) -> None:
        if not 1 <= self.satisfaction <= 5:
            raise SchemaError(f"satisfaction must be 1 to 5, got {self.satisfaction}")


class PropertyPatrol(Event, tag="property.patrol", frozen=True, kw_only=True):
    """A guard scanned a patrol checkpoint (巡更)."""

    checkpoint_id: str
    building_id: str
    floor: int
    staff_id: str
    result: PatrolResult = "normal"
    note: str = ""

    def check(self) -> None:
        check_range("floor", self.floor, -5, 200)
        if self.result == "abnormal" and not self.note.strip():
            raise SchemaError("an abnormal patrol result needs a note")


EVENTS: tuple[type[Event], ...] = (
    PropertyOrderCreated, PropertyOrderDispatched, PropertyOrderAccepted, PropertyOrderDone, PropertyOrderRated,
    PropertyPatrol,
)


# --- simulator ----------------------------------------------------------------------------------

EXPECTED_INTERVAL_S = 300.0
PATROL_PERIOD_S = 3600.0
CHECKPOINTS_PER_BUILDING = 12
ORDERS_PER_HEAD_DAY = 0.029  # ~80 orders from ~2,760 staff on site on a working day
WORKERS = 40
# category -> (share, urgent share, SLA accept min, SLA done min, descriptions)
CATEGORIES = {
    "repair": (0.40, 0.15, 30, 480, ("空调不制冷", "门锁损坏", "办公椅维修", "窗户关不严")),
    "cleaning": (0.20, 0.0, 30, 120, ("会议室保洁", "卫生间保洁", "地面污渍清理")),
    "water_electricity": (0.25, 0.15, 30, 240, ("插座无电", "水龙头漏水", "灯管不亮", "跳闸断电")),
    "meeting_service": (0.15, 0.0, 20, 90, ("会场布置", "茶水服务", "音响调试")),
}
URGENT_SLA_MIN = (15, 120)  # accepted within 15 minutes, done within 2 hours (DOMAIN.md)
CHANNELS = (("phone", 0.5), ("app", 0.25), ("wechat", 0.2), ("walk_in", 0.05))
SCORES = ((5, 0.60), (4, 0.25), (3, 0.10), (2, 0.03), (1, 0.02))


class PropertySimulator(HourlySimulator):
    """Work orders with their life cycle, and guards on patrol."""

    system = "property"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, *, seed: int, rate: float = 1.0,
                 tz: ZoneInfo = SHANGHAI, source: str = "sim.property", seq_start: int = 0, anomaly_p: float = 0.1):
        super().__init__(compound, calendar, seed=seed, rate=rate, tz=tz, source=source, seq_start=seq_start,
                         anomaly_p=anomaly_p)
        staff_rng = random.Random(f"{seed}:property:staff")
        self.workers = [(f"WY{n + 1:03d}", chinese_name(staff_rng), f"139{staff_rng.randint(0, 10**8 - 1):08d}")
                        for n in range(WORKERS)]
        self.checkpoints = [(f"{b.id}-CP{k + 1:02d}", b.id, 1 + k * b.floors // CHECKPOINTS_PER_BUILDING,
                             f"BA{j % 8 + 1:02d}")
                            for j, b in enumerate(compound.buildings) for k in range(CHECKPOINTS_PER_BUILDING)]
        self.period = self.device_period(PATROL_PERIOD_S, len(self.checkpoints), EXPECTED_INTERVAL_S)
        self.offices = [r for r in compound.rooms if r.kind == "office"]
        self.meeting_rooms = [r for r in compound.rooms if r.kind == "meeting"] or self.offices
        self.cats = tuple(CATEGORIES)
        self.cat_weights = tuple(v[0] for v in CATEGORIES.values())

    def start_day(self, day: Day) -> None:
        rng = self.rng
        r = roster(self.compound, self.calendar, self.seed, day.date)
        on_site = r.on_site()
        shape = Curve([x * (1.0 if 8 <= m / 60 < 18 else 0.15) + 0.01 for m, x in enumerate(on_site)])
        mean = ORDERS_PER_HEAD_DAY * len(r.person) * self.rate
        people = self.compound.people
        for n, t in enumerate(shape.arrivals(rng, mean, 0, 86400)):
            person = people[rng.choice(r.person)] if r.person else rng.choice(people)
            self._order(day, n + 1, day.t0 + t, person, late=False)
        if self.anomaly():
            self._order(day, 9999, day.at("10:00") + rng.uniform(0, 6 * 3600), rng.choice(people), late=True)

    def _order(self, day: Day, n: int, t: float, person: Person, *, late: bool) -> None:
        """Create one order and plan its dispatch, acceptance, completion and rating."""
        rng = self.rng
        category = "repair" if late else rng.choices(self.cats, self.cat_weights)[0]
        _share, urgent_p, sla_accept, sla_done, texts = CATEGORIES[category]
        urgent = late or rng.random() < urgent_p
        if urgent:
            sla_accept, sla_done = URGENT_SLA_MIN
        room = rng.choice(self.meeting_rooms if category == "meeting_service" else self.offices)
        order_id = f"WO{day.date:%Y%m%d}{n:04d}"
        self.emit(t, PropertyOrderCreated, dict(
            order_id=order_id, category=category, priority="urgent" if urgent else "normal",
            building_id=room.building_id, floor=room.floor, room_id=room.id, requester_id=person.id,
            requester_name=person.name, requester_phone=person.phone, unit_id=person.unit_id,
            channel=rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0],
            description=rng.choice(texts), sla_accept_min=sla_accept, sla_done_min=sla_done))
        wid, wname, wphone = rng.choice(self.workers)
        dispatch = rng.uniform(1, min(8, sla_accept / 2)) * 60
        if late:
            accept, done = rng.uniform(25, 40) * 60, rng.uniform(150, 240) * 60
        else:
            accept = dispatch + rng.uniform(1, sla_accept * (1.15 if rng.random() < 0.08 else 0.8)) * 60
            done = accept + rng.uniform(0.2, 0.75 if rng.random() > 0.08 else 1.4) * sla_done * 60
        self.emit(t + dispatch, PropertyOrderDispatched, dict(order_id=order_id, category=category, assignee_id=wid,
                                                              assignee_name=wname, assignee_phone=wphone))
        self.emit(t + accept, PropertyOrderAccepted, dict(order_id=order_id, category=category, assignee_id=wid,
                                                          wait_min=round(accept / 60, 1), sla_accept_min=sla_accept))
        self.emit(t + done, PropertyOrderDone, dict(order_id=order_id, category=category,
                                                    priority="urgent" if urgent else "normal", assignee_id=wid,
                                                    duration_min=round(done / 60, 1), sla_done_min=sla_done))
        if rng.random() < 0.7:
            score = rng.choices([s for s, _ in SCORES], [w for _, w in SCORES])[0]
            score = max(1, score - 2) if done > sla_done * 60 else score
            self.emit(t + done + rng.uniform(600, 6 * 3600), PropertyOrderRated, dict(
                order_id=order_id, category=category, satisfaction=score,
                comment="" if score >= 4 else "处理不及时"))

    def hour(self, day: Day, t0: float, t1: float) -> None:
        rand, points = self.rng.random, self.checkpoints
        times, at = stagger_lists(t0, t1, self.period, len(points))
        self.emit_rows(times, PropertyPatrol, [
            (*points[i], "abnormal", "消防通道堆放杂物") if rand() < 0.02 else (*points[i], "normal", "") for i in at])


# --- connectors ----------------------------------------------------------------------------------

# Connectors for the property call centre's work-order and patrol export (field names in pinyin,
# as the domestic property platform writes them).
#
# | vendor field | event field | notes |
# |---|---|---|
# | jllx (记录类型) | (schema) | CJ created, PD dispatched, JD accepted, WC done, PJ rated, XG patrol |
# | jlid (记录ID) | key | the platform's record id; key = make_key(jlsj, hash(jlid)) |
# | jlsj (记录时间) | ts | "2025-03-03 08:15:00", local time |
# | lsh (流水号) | seq | the platform's running serial number |
# | gdbh, gdlb (工单编号, 类别) | order_id, category | WX repair, BJ cleaning, SD water/electricity, HW meeting |
# | yxj (优先级) | priority | PT normal, JJ urgent |
# | ldbh, lc, fjbh (楼栋, 楼层, 房间) | building_id, floor, room_id | CJ; XG (building and floor) |
# | bxrid, bxrxm, bxrdh, dwbh (报修人 ...) | requester_id, requester_name, requester_phone, unit_id | CJ |
# | qd, nr (渠道, 内容) | channel, description | CJ; DH phone, APP, WX wechat, XC walk-in |
# | xysx, wcsx (响应/完成时限, 分钟) | sla_accept_min, sla_done_min | CJ; JD (xysx); WC (wcsx) |
# | clrid, clrxm, clrdh (处理人) | assignee_id, assignee_name, assignee_phone | PD; JD and WC (clrid) |
# | xysc, wcsc (响应/完成用时, 分钟) | wait_min, duration_min | JD, WC |
# | myd, pjnr (满意度, 评价) | satisfaction, comment | PJ |
# | xgd, xgr, xgjg, bz (巡更点, 巡更人, 结果, 备注) | checkpoint_id, staff_id, result, note | XG; ZC ok, YC abnormal |

CATEGORY_CODES = {"WX": "repair", "BJ": "cleaning", "SD": "water_electricity", "HW": "meeting_service"}
PRIORITY_CODES = {"PT": "normal", "JJ": "urgent"}
CHANNEL_CODES = {"DH": "phone", "APP": "app", "WX": "wechat", "XC": "walk_in"}
RESULT_CODES = {"ZC": "normal", "YC": "abnormal"}

_ORDER = {"order_id": "gdbh", "category": code("gdlb", CATEGORY_CODES)}

FORMAT = VendorFormat(
    system="property", type_field="jllx", id_field="jlid", time_field="jlsj", seq_field="lsh",
    types={
        "CJ": RecordType(PropertyOrderCreated, {
            **_ORDER, "priority": code("yxj", PRIORITY_CODES), "building_id": "ldbh", "floor": "lc", "room_id": "fjbh",
            "requester_id": "bxrid", "requester_name": "bxrxm", "requester_phone": "bxrdh", "unit_id": "dwbh",
            "channel": code("qd", CHANNEL_CODES), "description": "nr", "sla_accept_min": "xysx", "sla_done_min": "wcsx",
        }),
        "PD": RecordType(PropertyOrderDispatched, {
            **_ORDER, "assignee_id": "clrid", "assignee_name": "clrxm", "assignee_phone": "clrdh",
        }),
        "JD": RecordType(PropertyOrderAccepted, {
            **_ORDER, "assignee_id": "clrid", "wait_min": "xysc", "sla_accept_min": "xysx",
        }),
        "WC": RecordType(PropertyOrderDone, {
            **_ORDER, "priority": code("yxj", PRIORITY_CODES), "assignee_id": "clrid", "duration_min": "wcsc",
            "sla_done_min": "wcsx",
        }),
        "PJ": RecordType(PropertyOrderRated, {**_ORDER, "satisfaction": "myd", "comment": "pjnr"}),
        "XG": RecordType(PropertyPatrol, {
            "checkpoint_id": "xgd", "building_id": "ldbh", "floor": "lc", "staff_id": "xgr",
            "result": code("xgjg", RESULT_CODES), "note": "bz",
        }),
    },
)


SPEC = SystemSpec(
    name="property", title_zh="智慧物业", title_en="Property management", events=EVENTS,
    expected_interval_s=EXPECTED_INTERVAL_S, make_simulator=PropertySimulator, connectors=FORMAT.connectors(),
)
