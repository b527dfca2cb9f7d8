"""Event schema of smart energy (智慧节能): meter readings every 15 minutes for electricity (kWh),
water (m³), gas (m³) and solar generation (kWh).

A reading carries the cumulative register value and the delta since the meter's previous
reading, with the interval it covers: after a communication gap the first reading covers the
whole gap, so sums of deltas stay right and the gap stays visible.
"""

from __future__ import annotations

from typing import Literal

from datasources.base import Event, SchemaError
from datasources.vendorkit import check_range

MeterKind = Literal["electricity", "water", "gas", "solar"]
UNITS = {"electricity": "kWh", "solar": "kWh", "water": "m3", "gas": "m3"}


class EnergyReading(Event, tag="energy.reading", frozen=True, kw_only=True):
    """One meter reading: register value, delta since the previous reading, interval covered."""

    meter_id: str
    building_id: str
    floor: int
    kind: MeterKind
    unit: Literal["kWh", "m3"]
    reading: float
    delta: float
    interval_s: int = 900

    def check(self) -> None:
        if UNITS[self.kind] != self.unit:
            raise SchemaError(f"{self.kind} is metered in {UNITS[self.kind]}, not {self.unit}")
        check_range("floor", self.floor, -5, 200)
        check_range("reading", self.reading, 0, 1e10, self.unit)
        check_range("delta", self.delta, 0, 1e6, self.unit)
        if self.delta > self.reading:
            raise SchemaError(f"delta {self.delta} cannot exceed the register reading {self.reading}")
        check_range("interval_s", self.interval_s, 1, 31 * 86400, "s")


EVENTS = (EnergyReading,)
