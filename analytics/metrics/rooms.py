"""Live metrics of office rooms: occupied and vacant rooms and occupied area per building (from the
register's snapshots), moves, over-standard assignments, inspections and expiry reminders.

Occupancy is a Last per building rather than a Level: the register reports its totals, so a
wall that starts today shows the right vacancy rate without replaying years of moves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analytics.deltas import Contribution, Last, Sum, declare, extractor

RESULTS = {"compliant": ("合规", "compliant"), "over_standard": ("超标", "over standard"),
           "idle": ("闲置", "idle"), "misuse": ("违规使用", "misuse")}

ROOMS_TOTAL = declare("rooms.total", "last", "办公用房总数", "office rooms", "间")
OCCUPIED = declare("rooms.occupied", "last", "已使用用房", "rooms occupied", "间")
VACANT = declare("rooms.vacant", "last", "空置用房", "rooms vacant", "间")
AREA_TOTAL = declare("rooms.area_total_m2", "last", "使用面积", "usable area", "m²")
AREA_OCCUPIED = declare("rooms.area_occupied_m2", "last", "已用面积", "occupied area", "m²")
PEOPLE = declare("rooms.people", "last", "在册使用人数", "people assigned", "人")
ASSIGNMENTS = declare("rooms.assignments", "sum", "用房分配", "assignments", "次")
OVER_STANDARD = declare("rooms.over_standard", "sum", "超标分配", "over-standard assignments", "次")
RELEASES = declare("rooms.releases", "sum", "腾退", "releases", "次")
EXPIRING = declare("rooms.expiring", "sum", "到期提醒", "expiry reminders", "条")
INSPECTIONS = declare("rooms.inspections", "sum", "用房检查", "inspections", "次")
INSPECTION_BY = {k: declare(f"rooms.inspection.{k}", "sum", f"检查{zh}", f"inspections {en}", "次")
                 for k, (zh, en) in RESULTS.items()}


@extractor("rooms.inventory")
def inventory(ev: Any) -> Iterator[Contribution]:
    b = ev.building_id
    yield Last(ROOMS_TOTAL, b, ev.rooms_total)
    yield Last(OCCUPIED, b, ev.rooms_occupied)
    yield Last(VACANT, b, ev.rooms_vacant)
    yield Last(AREA_TOTAL, b, ev.area_total_m2)
    yield Last(AREA_OCCUPIED, b, ev.area_occupied_m2)
    yield Last(PEOPLE, b, ev.people)


@extractor("rooms.assignment")
def assignment(ev: Any) -> Iterator[Contribution]:
    yield Sum(ASSIGNMENTS)
    if ev.area_m2 / ev.occupants > ev.standard_m2:
        yield Sum(OVER_STANDARD)


@extractor("rooms.release")
def release(ev: Any) -> Iterator[Contribution]:
    yield Sum(RELEASES)


@extractor("rooms.inspection")
def inspection(ev: Any) -> Iterator[Contribution]:
    yield Sum(INSPECTIONS)
    yield Sum(INSPECTION_BY[ev.result])


@extractor("rooms.expiry")
def expiry(ev: Any) -> Iterator[Contribution]:
    yield Sum(EXPIRING)
