"""Small event schemas of our own covering every field type the warehouse maps, and a
deterministic generator of batches, so warehouse tests do not depend on the real systems."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from typing import Literal

from datasources.base import UTC, Event, SystemSpec, make_key


class Sale(Event, tag="shop.sale"):
    """Every column type: money, float, int, bool, literal, optional text/datetime, JSON."""

    unit_id: str
    amount: Decimal
    weight: float
    items: int
    paid: bool
    method: Literal["card", "face", "tray"]
    note: str | None = None
    served_at: dt.datetime | None = None
    served_on: dt.date | None = None
    extra: dict[str, int] = {}
    tags: list[str] = []


class Reading(Event, tag="meter.reading"):
    """Measure found by priority (delta before value), dimension by building."""

    building_id: str
    meter_id: str
    value: float
    delta: float | None = None


class Ping(Event, tag="door.ping"):
    """No measure and no dimension: counts only."""

    device: str


STRUCTS = (Sale, Reading, Ping)
T0 = dt.datetime(2025, 3, 3, 0, 30, tzinfo=UTC)  # a Monday, 08:30 in Shanghai


def make_events(n: int, *, source: str = "sim.test", seq_start: int = 1, start: dt.datetime = T0,
                step_s: float = 7.0, seed: int = 1) -> list[Event]:
    """`n` events of mixed schemas in time order with consecutive seq numbers."""
    return list(iter_events(n, source=source, seq_start=seq_start, start=start, step_s=step_s, seed=seed))


def iter_events(n: int, *, source: str, seq_start: int, start: dt.datetime, step_s: float,
                seed: int) -> Iterator[Event]:
    rng = random.Random(seed)
    for i in range(n):
        ts = start + dt.timedelta(seconds=i * step_s)
        yield sample_event(STRUCTS[(0, 0, 1, 2)[i % 4]], ts, source, seq_start + i, rng)


def sample_event(cls: type[Event], ts: dt.datetime, source: str, seq: int, rng: random.Random) -> Event:
    base = {"source": source, "ts": ts, "key": make_key(ts, rng.getrandbits(80)), "seq": seq}
    if cls is Sale:
        return Sale(**base, unit_id=f"U{rng.randint(1, 5):02d}", amount=Decimal(rng.randint(100, 3000)) / 100,
                    weight=rng.random(), items=rng.randint(1, 4), paid=rng.random() < 0.9,
                    method=rng.choice(("card", "face", "tray")), note=rng.choice((None, "少辣", "加饭")),
                    served_at=rng.choice((None, ts + dt.timedelta(minutes=3))),
                    served_on=rng.choice((None, ts.date())),
                    extra=rng.choice(({}, {"dish": rng.randint(1, 30)})), tags=rng.choice(([], ["午餐"])))
    if cls is Reading:
        return Reading(**base, building_id=f"B{rng.randint(1, 3):02d}", meter_id=f"M{rng.randint(1, 9)}",
                       value=rng.uniform(0, 1e5), delta=rng.choice((None, round(rng.uniform(0, 50), 3))))
    return Ping(**base, device=f"D{rng.randint(1, 4)}")


class SampleSimulator:
    """A seeded simulator of one sample schema: an event every `600 / rate` seconds on a fixed grid,
    each drawn from a generator seeded by (seed, event time), so the same seed gives the same keys."""

    def __init__(self, compound: object, calendar: object, *, seed: int, rate: float = 1.0, tz: dt.tzinfo,
                 source: str, seq_start: int = 0, struct: type[Event] = Sale):
        self.seed, self.step, self.source, self.seq, self.struct = seed, 600 / rate, source, seq_start, struct

    def events_between(self, start: dt.datetime, end: dt.datetime) -> Iterator[Event]:
        t = -(-start.timestamp() // self.step) * self.step
        while t < end.timestamp():
            self.seq += 1
            rng = random.Random(f"{self.seed}|{self.source}|{t}")
            yield sample_event(self.struct, dt.datetime.fromtimestamp(t, UTC), self.source, self.seq, rng)
            t += self.step


def sample_systems() -> list[SystemSpec]:
    """Three fake systems (one schema each) with the SystemSpec contract of the real registry."""
    return [SystemSpec(name=cls.schema_name().split(".")[0], title_zh="样例", title_en="Sample", events=(cls,),
                       expected_interval_s=600, make_simulator=partial(SampleSimulator, struct=cls))
            for cls in STRUCTS]
