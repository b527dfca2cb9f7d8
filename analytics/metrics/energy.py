"""Live metrics of the energy screen: electricity, water and gas used and solar generated, in
total and per building, and each meter's latest register reading.

Consumption is the sum of reading deltas, bucketed by the reading's minute, so today's and
this month's totals, the night base load and comparisons all come from the same sums.
`energy.<kind>.building.{building}` are families named with the building id from the event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analytics.deltas import Contribution, Last, Sum, declare, extractor, member

KIND_TITLES = {"electricity": ("用电量", "electricity", "kWh"), "water": ("用水量", "water", "m³"),
               "gas": ("用气量", "gas", "m³"), "solar": ("光伏发电量", "solar generation", "kWh")}

TOTAL = {k: declare(f"energy.{k}", "sum", zh, en, unit) for k, (zh, en, unit) in KIND_TITLES.items()}
BY_BUILDING = {k: declare(f"energy.{k}.building.{{building}}", "sum", f"各楼{zh}", f"{en} by building", unit)
               for k, (zh, en, unit) in KIND_TITLES.items()}
READING = declare("energy.reading", "last", "表计读数", "meter reading", "")


@extractor("energy.reading")
def reading(ev: Any) -> Iterator[Contribution]:
    yield Sum(TOTAL[ev.kind], ev.delta)
    yield Sum(member(BY_BUILDING[ev.kind], ev.building_id), ev.delta)
    yield Last(READING, ev.meter_id, ev.reading)
