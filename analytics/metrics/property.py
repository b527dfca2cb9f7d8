"""Live metrics of property management: work orders created and done today by category, orders by
status now, on-time acceptance and completion, satisfaction, and patrols.

Status counts are Levels moved by each step (+1 into a status, -1 out of the previous
one), so pending + dispatched + in progress = open orders at any moment; on-time is
decided from the step's own duration and SLA, with no lookup of the created event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analytics.deltas import Contribution, Level, Sum, declare, extractor

CATEGORIES = {"repair": ("维修", "repair"), "cleaning": ("保洁", "cleaning"),
              "water_electricity": ("水电", "water and electricity"), "meeting_service": ("会务", "meeting service")}

CREATED = declare("property.orders_created", "sum", "新增工单", "work orders created", "单")
DONE = declare("property.orders_done", "sum", "完成工单", "work orders done", "单")
DONE_ON_TIME = declare("property.orders_done_on_time", "sum", "按时完成工单", "work orders done on time", "单")
ACCEPTED = declare("property.orders_accepted", "sum", "已接单", "work orders accepted", "单")
ACCEPTED_ON_TIME = declare("property.orders_accepted_on_time", "sum", "按时接单", "accepted within SLA", "单")
OPEN = declare("property.orders_open", "level", "未完成工单", "open work orders", "单")
URGENT_OPEN = declare("property.urgent_open", "level", "未完成紧急工单", "open urgent work orders", "单")
PENDING = declare("property.status.pending", "level", "待派单", "awaiting dispatch", "单")
DISPATCHED = declare("property.status.dispatched", "level", "已派单待接单", "dispatched, not accepted", "单")
IN_PROGRESS = declare("property.status.in_progress", "level", "处理中", "in progress", "单")
SATISFACTION_SUM = declare("property.satisfaction_sum", "sum", "满意度合计", "satisfaction total", "分")
RATINGS = declare("property.ratings", "sum", "评价数", "ratings", "条")
PATROLS = declare("property.patrols", "sum", "巡更打卡", "patrol scans", "次")
PATROL_ABNORMAL = declare("property.patrol_abnormal", "sum", "巡更异常", "patrol findings", "次")
CREATED_BY = {k: declare(f"property.created.{k}", "sum", f"{zh}工单", f"{en} orders created", "单")
              for k, (zh, en) in CATEGORIES.items()}
DONE_BY = {k: declare(f"property.done.{k}", "sum", f"完成{zh}工单", f"{en} orders done", "单")
           for k, (zh, en) in CATEGORIES.items()}


@extractor("property.order_created")
def order_created(ev: Any) -> Iterator[Contribution]:
    yield Sum(CREATED)
    yield Sum(CREATED_BY[ev.category])
    yield Level(OPEN, 1)
    yield Level(PENDING, 1)
    if ev.priority == "urgent":
        yield Level(URGENT_OPEN, 1)


@extractor("property.order_dispatched")
def order_dispatched(ev: Any) -> Iterator[Contribution]:
    yield Level(PENDING, -1)
    yield Level(DISPATCHED, 1)


@extractor("property.order_accepted")
def order_accepted(ev: Any) -> Iterator[Contribution]:
    yield Level(DISPATCHED, -1)
    yield Level(IN_PROGRESS, 1)
    yield Sum(ACCEPTED)
    if ev.wait_min <= ev.sla_accept_min:
        yield Sum(ACCEPTED_ON_TIME)


@extractor("property.order_done")
def order_done(ev: Any) -> Iterator[Contribution]:
    yield Sum(DONE)
    yield Sum(DONE_BY[ev.category])
    yield Level(OPEN, -1)
    yield Level(IN_PROGRESS, -1)
    if ev.priority == "urgent":
        yield Level(URGENT_OPEN, -1)
    if ev.duration_min <= ev.sla_done_min:
        yield Sum(DONE_ON_TIME)


@extractor("property.order_rated")
def order_rated(ev: Any) -> Iterator[Contribution]:
    yield Sum(SATISFACTION_SUM, ev.satisfaction)
    yield Sum(RATINGS)


@extractor("property.patrol")
def patrol(ev: Any) -> Iterator[Contribution]:
    yield Sum(PATROLS)
    if ev.result != "normal":
        yield Sum(PATROL_ABNORMAL)
