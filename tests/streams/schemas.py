"""Small event schemas for stream tests, independent of the real access-layer systems."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from analytics.deltas import Last, Level, Sum, declare, extractor
from datasources.base import Event, SchemaError, make_key


class Meal(Event, tag="tcant.meal", frozen=True, kw_only=True):
    person_id: str
    amount: Decimal
    method: Literal["card", "face", "tray"] = "card"

    def check(self) -> None:
        if not (Decimal(0) <= self.amount < Decimal(100000)):
            raise SchemaError(f"amount must be between 0 and 100000 CNY, got {self.amount}")


class Gate(Event, tag="tgate.pass", frozen=True, kw_only=True):
    gate_id: str
    direction: Literal["in", "out"]
    queue: float = 0.0


MEALS = declare("tcant.meals", "sum", "就餐人次", "Meals", "人次")
REVENUE = declare("tcant.revenue", "sum", "营业额", "Revenue", "元")
ONSITE = declare("tgate.onsite", "level", "在场人数", "People on site", "人")
QUEUE = declare("tgate.queue", "last", "排队", "Queue", "人")


@extractor("tcant.meal")
def _meal(e: Meal):  # type: ignore[no-untyped-def]
    return [Sum(MEALS), Sum(REVENUE, float(e.amount))]


@extractor("tgate.pass")
def _gate(e: Gate):  # type: ignore[no-untyped-def]
    return [Level(ONSITE, 1 if e.direction == "in" else -1), Last(QUEUE, e.gate_id, e.queue)]


def meal(ts: dt.datetime, seq: int, amount: str = "12.50", source: str = "t.cant") -> Meal:
    return Meal(source=source, ts=ts, key=make_key(ts), seq=seq, person_id="P00001", amount=Decimal(amount))


def gate(ts: dt.datetime, seq: int, direction: str = "in", queue: float = 0.0, source: str = "t.gate") -> Gate:
    return Gate(source=source, ts=ts, key=make_key(ts), seq=seq, gate_id="GP01", direction=direction,  # type: ignore[arg-type]
                queue=queue)
