"""Live metrics of smart passage: gate passes in and out, people and vehicles on site, visitors
today and their applications, refused passes, pass methods and gates online.

People on site is a Level: +1 for every granted pass in at a pedestrian gate, -1 for every
granted pass out, staff and visitors alike. Vehicles on site is the same at vehicle gates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analytics.deltas import Contribution, Last, Level, Sum, declare, extractor

METHOD_TITLES = {"card": ("刷卡", "card"), "face": ("刷脸", "face"), "qr": ("扫码", "QR code")}
STATE_TITLES = {"applied": ("访客申请", "visitor applications"), "approved": ("访客审批通过", "visitor approvals"),
                "rejected": ("访客审批驳回", "visitor rejections"), "cancelled": ("访客取消", "visitor cancellations")}

PASS_IN = declare("passage.in", "sum", "进入人次", "passes in", "人次")
PASS_OUT = declare("passage.out", "sum", "离开人次", "passes out", "人次")
ON_SITE = declare("passage.on_site", "level", "在院人数", "people on site", "人")
VISITORS = declare("passage.visitors", "sum", "今日访客", "visitors today", "人")
VISITORS_ON_SITE = declare("passage.visitors_on_site", "level", "在院访客", "visitors on site", "人")
DENIED = declare("passage.denied", "sum", "通行拒绝", "refused passes", "次")
BY_METHOD = {k: declare(f"passage.method.{k}", "sum", f"{zh}通行", f"{en} passes", "人次")
             for k, (zh, en) in METHOD_TITLES.items()}
VEHICLES_IN = declare("passage.vehicles_in", "sum", "车辆进入", "vehicles in", "辆次")
VEHICLES_OUT = declare("passage.vehicles_out", "sum", "车辆离开", "vehicles out", "辆次")
VEHICLES_ON_SITE = declare("passage.vehicles_on_site", "level", "在院车辆", "vehicles on site", "辆")
APPLICATIONS = {k: declare(f"passage.visitor.{k}", "sum", zh, en, "件") for k, (zh, en) in STATE_TITLES.items()}
GATE = declare("passage.gate_online", "last", "闸机在线", "gate online", "")


@extractor("passage.person")
def person(ev: Any) -> Iterator[Contribution]:
    if ev.result != "granted":
        yield Sum(DENIED)
        return
    yield Sum(BY_METHOD[ev.method])
    step = 1 if ev.direction == "in" else -1
    yield Sum(PASS_IN if step > 0 else PASS_OUT)
    yield Level(ON_SITE, step)
    if ev.visitor_id is not None:
        yield Level(VISITORS_ON_SITE, step)
        if step > 0:
            yield Sum(VISITORS)


@extractor("passage.vehicle")
def vehicle(ev: Any) -> Iterator[Contribution]:
    if ev.result != "granted":
        yield Sum(DENIED)
        return
    step = 1 if ev.direction == "in" else -1
    yield Sum(VEHICLES_IN if step > 0 else VEHICLES_OUT)
    yield Level(VEHICLES_ON_SITE, step)


@extractor("passage.visitor")
def visitor(ev: Any) -> Iterator[Contribution]:
    yield Sum(APPLICATIONS[ev.state])


@extractor("passage.gate")
def gate(ev: Any) -> Iterator[Contribution]:
    """1 online, 0 offline per gate: gates online = the sum of the values."""
    yield Last(GATE, ev.gate_id, 1 if ev.online else 0)
