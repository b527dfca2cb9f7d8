"""Office rooms (智慧房产 / 办公用房): assignments, releases, inspections, expiry reminders, and a
per-building inventory snapshot.

Schemas: an assignment carries the room's usable area, the number of people sharing it
and the occupant's rank with its area standard (党政机关办公用房建设标准 2014), so "over
standard" (用房超标) is decidable from the event alone: area_m2 / occupants > standard_m2.

Simulator: ~1,400 office rooms filled unit by unit with people of one rank each, as many
as the rank's standard allows (a 24 m² room holds three 处级以下 staff at 9 m² each, one
副厅级 official alone), leaving about one room in ten vacant. On working days a few people
move out and in (compliant moves), assignments that reach their end date are renewed
(with a reminder 30 days ahead), and inspectors check some twenty rooms. Every building
reports its totals every 15 minutes, the source's heartbeat. Anomaly (probability
`anomaly_p` per working day): an over-standard assignment, one junior person alone in a
large room.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal
from zoneinfo import ZoneInfo

from datasources.base import Event, SchemaError, SystemSpec
from datasources.simkit import SHANGHAI, Day, HourlySimulator, poisson, stagger
from datasources.vendorkit import RecordType, VendorFormat, check_range, code
from domain.calendar import HolidayCalendar
from domain.compound import RANK_AREA_M2, Compound, Person, Room

# --- event schemas ----------------------------------------------------------------------------------

Rank = Literal["省部级正职", "省部级副职", "正厅级", "副厅级", "正处级", "副处级", "处级以下"]
AssignmentKind = Literal["new", "transfer", "renewal"]
ReleaseReason = Literal["transfer", "retire", "expiry", "adjust"]
InspectionResult = Literal["compliant", "over_standard", "idle", "misuse"]


class RoomsAssignment(Event, tag="rooms.assignment", frozen=True, kw_only=True):
    """A person (and their unit) assigned a place in a room, with the room's area and sharing."""

    room_id: str
    building_id: str
    floor: int
    area_m2: float
    unit_id: str
    person_id: str
    occupant_rank: Rank
    standard_m2: float
    occupants: int
    kind: AssignmentKind = "new"
    valid_until: dt.date | None = None

    def check(self) -> None:
        check_range("floor", self.floor, -5, 200)
        check_range("area_m2", self.area_m2, 0.5, 2000, "m²")
        check_range("occupants", self.occupants, 1, 50)
        expected = RANK_AREA_M2[self.occupant_rank]
        if self.standard_m2 != expected:
            raise SchemaError(f"standard_m2 {self.standard_m2} does not match the {expected} m² standard "
                              f"of {self.occupant_rank}")


class RoomsRelease(Event, tag="rooms.release", frozen=True, kw_only=True):
    """A person gave up their place; the room is vacant when occupants_left is 0."""

    room_id: str
    building_id: str
    floor: int
    area_m2: float
    unit_id: str
    person_id: str
    reason: ReleaseReason
    occupants_left: int

    def check(self) -> None:
        check_range("floor", self.floor, -5, 200)
        check_range("area_m2", self.area_m2, 0.5, 2000, "m²")
        check_range("occupants_left", self.occupants_left, 0, 50)


class RoomsInspection(Event, tag="rooms.inspection", frozen=True, kw_only=True):
    """An on-site inspection of a room's use (清理检查)."""

    room_id: str
    building_id: str
    inspector_id: str
    result: InspectionResult
    occupants: int
    note: str = ""

    def check(self) -> None:
        check_range("occupants", self.occupants, 0, 50)
        if self.result != "compliant" and not self.note.strip():
            raise SchemaError(f"an inspection with result {self.result!r} needs a note")


class RoomsExpiry(Event, tag="rooms.expiry", frozen=True, kw_only=True):
    """A reminder that an assignment (or lease) runs out in days_left days."""

    room_id: str
    building_id: str
    unit_id: str
    person_id: str
    expires_on: dt.date
    days_left: int

    def check(self) -> None:
        check_range("days_left", self.days_left, 0, 3660)


class RoomsInventory(Event, tag="rooms.inventory", frozen=True, kw_only=True):
    """A building's room totals at the time of the snapshot; also the source's heartbeat."""

    building_id: str
    rooms_total: int
    rooms_occupied: int
    rooms_vacant: int
    area_total_m2: float
    area_occupied_m2: float
    people: int

    def check(self) -> None:
        if self.rooms_occupied + self.rooms_vacant != self.rooms_total:
            raise SchemaError(f"rooms_occupied {self.rooms_occupied} + rooms_vacant {self.rooms_vacant} "
                              f"must equal rooms_total {self.rooms_total}")
        check_range("rooms_total", self.rooms_total, 0, 100_000)
        check_range("area_total_m2", self.area_total_m2, 0, 10_000_000, "m²")
        check_range("area_occupied_m2", self.area_occupied_m2, 0, self.area_total_m2, "m²")
        check_range("people", self.people, 0, 1_000_000)


EVENTS: tuple[type[Event], ...] = (RoomsAssignment, RoomsRelease, RoomsInspection, RoomsExpiry, RoomsInventory)


# --- simulator ----------------------------------------------------------------------------------

EXPECTED_INTERVAL_S = 300.0
INVENTORY_PERIOD_S = 900.0
MOVES_PER_WORKDAY = 3.0
INSPECTIONS_PER_WORKDAY = 20.0
TERM_DAYS = 3 * 365
REMIND_DAYS = 30
INSPECTORS = tuple(f"FC{n:02d}" for n in range(1, 6))


class RoomsSimulator(HourlySimulator):
    """The room register: who sits where, and how full each building is."""

    system = "rooms"

    def __init__(self, compound: Compound, calendar: HolidayCalendar, *, seed: int, rate: float = 1.0,
                 tz: ZoneInfo = SHANGHAI, source: str = "sim.rooms", seq_start: int = 0, anomaly_p: float = 0.1):
        super().__init__(compound, calendar, seed=seed, rate=rate, tz=tz, source=source, seq_start=seq_start,
                         anomaly_p=anomaly_p)
        self.rooms: list[Room] = [r for r in compound.rooms if r.kind == "office"]
        self.people = {p.id: p for p in compound.people}
        self.seats: dict[str, list[tuple[str, dt.date]]] = {r.id: [] for r in self.rooms}  # room -> (person, until)
        self.unplaced: list[str] = []
        self.buildings = [b.id for b in compound.buildings]
        self.period = self.device_period(INVENTORY_PERIOD_S, len(self.buildings), EXPECTED_INTERVAL_S)
        self.changes: list[tuple[float, str, int, float, int]] = []  # (t, building, d_rooms, d_area, d_people)
        self.applied = 0
        self.totals = {b: (sum(1 for r in self.rooms if r.building_id == b),
                           sum(r.area_m2 for r in self.rooms if r.building_id == b)) for b in self.buildings}
        self.shown: dict[str, list[float]] = {}  # building -> [occupied rooms, occupied area, people] as reported

    def _allocate(self, today: dt.date) -> None:
        """The register as it stands when the simulation starts: compliant, by unit and rank."""
        rng = self.rng
        order = sorted(self.people.values(), key=lambda p: (p.unit_id, -RANK_AREA_M2[p.rank], p.id))
        rooms = sorted(self.rooms, key=lambda r: (r.building_id, r.floor, r.id))
        vacant = set(rng.sample(range(len(rooms)), len(rooms) // 10))
        k = 0
        for j, room in enumerate(rooms):
            if j in vacant or k >= len(order):
                continue
            rank = order[k].rank
            need = math.ceil(room.area_m2 / RANK_AREA_M2[rank])
            while need and k < len(order) and order[k].rank == rank:
                until = today + dt.timedelta(days=rng.randrange(1, TERM_DAYS))
                self.seats[room.id].append((order[k].id, until))
                k, need = k + 1, need - 1
        self.unplaced = [p.id for p in order[k:]]
        for b in self.buildings:
            mine = [r for r in self.rooms if r.building_id == b and self.seats[r.id]]
            self.shown[b] = [len(mine), sum(r.area_m2 for r in mine), sum(len(self.seats[r.id]) for r in mine)]

    def start_day(self, day: Day) -> None:
        rng = self.rng
        if not self.shown:
            self._allocate(day.date)
        self.changes, self.applied = [], 0
        if not day.working:
            return

        def hours() -> float:
            return day.at("08:30") + rng.uniform(0, 8.5 * 3600)

        for room in self.rooms:
            for pid, until in list(self.seats[room.id]):
                if until == day.date + dt.timedelta(days=REMIND_DAYS):
                    self.emit(hours(), RoomsExpiry, dict(room_id=room.id, building_id=room.building_id,
                                                         unit_id=self.people[pid].unit_id, person_id=pid,
                                                         expires_on=until, days_left=REMIND_DAYS))
                elif until <= day.date:
                    self._seat(hours(), room, self.people[pid], "renewal", day.date)
        # Moves, inspections and the anomaly are planned in time order, so the reported totals
        # step through the same states the register went through.
        actions = [(hours(), self._move) for _ in range(poisson(rng, MOVES_PER_WORKDAY * self.rate))]
        actions += [(hours(), self._inspect) for _ in range(poisson(rng, INSPECTIONS_PER_WORKDAY * self.rate))]
        if self.anomaly():
            actions.append((hours(), self._over_standard))
        for t, act in sorted(actions, key=lambda a: a[0]):
            act(t, day.date)
        self.changes.sort()

    def _over_standard(self, t: float, today: dt.date) -> None:
        """The anomaly: one junior person alone in a large vacant room (用房超标)."""
        rng = self.rng
        juniors = [pid for pid in self.unplaced if self.people[pid].rank == "处级以下"]
        big = [r for r in self.rooms if not self.seats[r.id] and r.area_m2 >= 18]
        if juniors and big:
            pid = rng.choice(juniors)
            self.unplaced.remove(pid)
            self._seat(t, rng.choice(big), self.people[pid], "new", today)

    def _move(self, t: float, today: dt.date) -> None:
        """Someone leaves a room, and someone without a place gets a compliant one."""
        rng = self.rng
        room = rng.choice(self.rooms)
        if self.seats[room.id]:
            pid, _until = self.seats[room.id].pop(rng.randrange(len(self.seats[room.id])))
            left = len(self.seats[room.id])
            person = self.people[pid]
            self.emit(t, RoomsRelease, dict(room_id=room.id, building_id=room.building_id, floor=room.floor,
                                            area_m2=room.area_m2, unit_id=person.unit_id, person_id=pid,
                                            reason=rng.choice(("transfer", "retire", "adjust")), occupants_left=left))
            self.changes.append((t, room.building_id, -1 if left == 0 else 0, -room.area_m2 if left == 0 else 0, -1))
            self.unplaced.append(pid)
        if self.unplaced:
            person = self.people[self.unplaced.pop(rng.randrange(len(self.unplaced)))]
            std = RANK_AREA_M2[person.rank]
            fits = [r for r in self.rooms if r.area_m2 / (len(self.seats[r.id]) + 1) <= std
                    and len(self.seats[r.id]) + 1 <= math.ceil(r.area_m2 / std)]
            if fits:
                self._seat(t + rng.uniform(600, 3600), rng.choice(fits), person, "transfer", today)
            else:
                self.unplaced.append(person.id)

    def _seat(self, t: float, room: Room, person: Person, kind: str, today: dt.date) -> None:
        seats = self.seats[room.id]
        seats[:] = [s for s in seats if s[0] != person.id]
        until = today + dt.timedelta(days=TERM_DAYS)
        seats.append((person.id, until))
        self.emit(t, RoomsAssignment, dict(
            room_id=room.id, building_id=room.building_id, floor=room.floor, area_m2=room.area_m2,
            unit_id=person.unit_id, person_id=person.id, occupant_rank=person.rank,
            standard_m2=float(RANK_AREA_M2[person.rank]), occupants=len(seats), kind=kind, valid_until=until))
        if kind != "renewal":
            first = len(seats) == 1
            self.changes.append((t, room.building_id, 1 if first else 0, room.area_m2 if first else 0, 1))

    def _inspect(self, t: float, today: dt.date) -> None:
        rng = self.rng
        room = rng.choice(self.rooms)
        seats = self.seats[room.id]
        over = any(room.area_m2 / len(seats) > RANK_AREA_M2[self.people[p].rank] for p, _u in seats)
        result, note = ("over_standard", "人均面积超标") if over else \
            ("idle", "长期闲置") if not seats and rng.random() < 0.3 else \
            ("misuse", "用作仓库") if rng.random() < 0.01 else ("compliant", "")
        self.emit(t, RoomsInspection, dict(room_id=room.id, building_id=room.building_id,
                                           inspector_id=rng.choice(INSPECTORS), result=result,
                                           occupants=len(seats), note=note))

    def hour(self, day: Day, t0: float, t1: float) -> None:
        """Building totals as of each snapshot: changes planned for the day are applied as time passes."""
        changes = self.changes
        for t, i in sorted(stagger(t0, t1, self.period, len(self.buildings))):
            b = self.buildings[i]
            while self.applied < len(changes) and changes[self.applied][0] <= t:
                _t, cb, d_rooms, d_area, d_people = changes[self.applied]
                shown = self.shown[cb]
                shown[0] += d_rooms
                shown[1] += d_area
                shown[2] += d_people
                self.applied += 1
            occupied, area, people = self.shown[b]
            total, total_area = self.totals[b]
            self.emit(t, RoomsInventory, dict(building_id=b, rooms_total=total, rooms_occupied=occupied,
                                              rooms_vacant=total - occupied, area_total_m2=total_area,
                                              area_occupied_m2=round(area, 1), people=people))


# --- connectors ----------------------------------------------------------------------------------

# Connectors for the office-room register's export (房产管理平台, pinyin field names).
#
# | vendor field | event field | notes |
# |---|---|---|
# | ywlx (业务类型) | (schema) | FP assignment, TF release, JC inspection, DQ expiry reminder, TJ inventory |
# | ywid (业务ID) | key | the register's record id; key = make_key(ywsj, hash(ywid)) |
# | ywsj (业务时间) | ts | "2025-03-03 08:15:00", local time |
# | xh (序号) | seq | the register's running serial number |
# | fjbh, ldbh, lc, syMj (房间, 楼栋, 楼层, 面积) | room_id, building_id, floor, area_m2 | FP, TF; JC, DQ |
# | dwbh, ryid (单位, 人员) | unit_id, person_id | FP, TF, DQ |
# | zj, bzMj (职级, 面积标准) | occupant_rank, standard_m2 | FP; rank as written in the standard, e.g. 处级以下 |
# | rs (人数) | occupants | FP (after the assignment), JC |
# | fplx, yxq (分配类型, 有效期至) | kind, valid_until | FP; XF new, TZ transfer, XQ renewal; date 2025-03-03 |
# | tfyy, syrs (退房原因, 剩余人数) | reason, occupants_left | TF; DD transfer, TX retire, DQ expiry, TZ adjust |
# | jcr, jcjg, bz (检查人, 结果, 备注) | inspector_id, result, note | JC; HG ok, CB over standard, XZ idle, WY misuse |
# | dqrq, sysj (到期日, 剩余天数) | expires_on, days_left | DQ |
# | fjzs, yzy, kz | rooms_total, rooms_occupied, rooms_vacant | TJ |
# | zmj, zymj, zyrs | area_total_m2, area_occupied_m2, people | TJ |

KINDS = {"XF": "new", "TZ": "transfer", "XQ": "renewal"}
REASONS = {"DD": "transfer", "TX": "retire", "DQ": "expiry", "TZ": "adjust"}
RESULTS = {"HG": "compliant", "CB": "over_standard", "XZ": "idle", "WY": "misuse"}

_ROOM = {"room_id": "fjbh", "building_id": "ldbh", "floor": "lc", "area_m2": "syMj"}

FORMAT = VendorFormat(
    system="rooms", type_field="ywlx", id_field="ywid", time_field="ywsj", seq_field="xh",
    types={
        "FP": RecordType(RoomsAssignment, {
            **_ROOM, "unit_id": "dwbh", "person_id": "ryid", "occupant_rank": "zj", "standard_m2": "bzMj",
            "occupants": "rs", "kind": code("fplx", KINDS), "valid_until": "yxq",
        }),
        "TF": RecordType(RoomsRelease, {
            **_ROOM, "unit_id": "dwbh", "person_id": "ryid", "reason": code("tfyy", REASONS),
            "occupants_left": "syrs",
        }),
        "JC": RecordType(RoomsInspection, {
            "room_id": "fjbh", "building_id": "ldbh", "inspector_id": "jcr", "result": code("jcjg", RESULTS),
            "occupants": "rs", "note": "bz",
        }),
        "DQ": RecordType(RoomsExpiry, {
            "room_id": "fjbh", "building_id": "ldbh", "unit_id": "dwbh", "person_id": "ryid",
            "expires_on": "dqrq", "days_left": "sysj",
        }),
        "TJ": RecordType(RoomsInventory, {
            "building_id": "ldbh", "rooms_total": "fjzs", "rooms_occupied": "yzy", "rooms_vacant": "kz",
            "area_total_m2": "zmj", "area_occupied_m2": "zymj", "people": "zyrs",
        }),
    },
)


SPEC = SystemSpec(
    name="rooms", title_zh="智慧房产", title_en="Office rooms", events=EVENTS,
    expected_interval_s=EXPECTED_INTERVAL_S, make_simulator=RoomsSimulator, connectors=FORMAT.connectors(),
)
