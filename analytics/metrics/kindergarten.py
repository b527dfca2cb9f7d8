"""Live metrics of the kindergarten: children in now, check-ins and check-outs today, fevers, late
and unregistered pick-ups, terminals online. Counts only: names and phones never reach
live state.

"Late" is any pick-up after closing; "overdue" is the alarm rule's 30 minutes past it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analytics.deltas import Contribution, Last, Level, Sum, declare, extractor

OVERDUE_MIN = 30.0

PRESENT = declare("kindergarten.present", "level", "在园幼儿", "children in now", "人")
CHECK_INS = declare("kindergarten.check_ins", "sum", "入园", "check-ins", "人次")
CHECK_OUTS = declare("kindergarten.check_outs", "sum", "离园", "check-outs", "人次")
FEVERS = declare("kindergarten.fevers", "sum", "体温异常", "fever readings", "人次")
SENT_HOME = declare("kindergarten.sent_home", "sum", "因病离园", "sent home sick", "人")
LATE = declare("kindergarten.late_pickups", "sum", "延时接园", "picked up after closing", "人")
OVERDUE = declare("kindergarten.overdue_pickups", "sum", "超时30分钟接园", "picked up 30+ min late", "人")
UNREGISTERED = declare("kindergarten.unregistered_pickups", "sum", "非登记人员接园", "unregistered pick-ups", "人")
TERMINAL_ONLINE = declare("kindergarten.terminal_online", "last", "终端在线", "terminal online", "")


@extractor("kindergarten.check_in")
def check_in(ev: Any) -> Iterator[Contribution]:
    yield Level(PRESENT, 1)
    yield Sum(CHECK_INS)
    if ev.health == "fever":
        yield Sum(FEVERS)


@extractor("kindergarten.check_out")
def check_out(ev: Any) -> Iterator[Contribution]:
    yield Level(PRESENT, -1)
    yield Sum(CHECK_OUTS)
    if ev.reason == "sick":
        yield Sum(SENT_HOME)
    if ev.late_min > 0:
        yield Sum(LATE)
    if ev.late_min >= OVERDUE_MIN:
        yield Sum(OVERDUE)
    if not ev.registered:
        yield Sum(UNREGISTERED)


@extractor("kindergarten.health_check")
def health_check(ev: Any) -> Iterator[Contribution]:
    if ev.result == "fever":
        yield Sum(FEVERS)


@extractor("kindergarten.terminal")
def terminal(ev: Any) -> Iterator[Contribution]:
    yield Last(TERMINAL_ONLINE, ev.terminal_id, 1 if ev.online else 0)
