"""Checks shared by the tests of the ba, security, property, rooms and kindergarten systems.

Every simulator owes the same promises (reproducible, ordered, inside its windows, never
silent past its expected interval, scaled by `rate`), and every connector the same
(a vendor record maps to its event, a re-sent record keeps its key), so the tests state
them once here and each system's test module adds what is particular to it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from datasources.base import UTC, Event, SystemSpec
from domain.calendar import default_calendar
from domain.compound import Compound, build_compound

TZ = ZoneInfo("Asia/Shanghai")
SAMPLES = Path(__file__).with_name("samples")
WORKDAY = dt.date(2025, 3, 4)  # a Tuesday
SATURDAY = dt.date(2025, 3, 8)
HOLIDAY = dt.date(2025, 10, 2)  # National Day
MAKEUP = dt.date(2025, 9, 28)  # a Sunday worked (调休)


@lru_cache(maxsize=1)
def compound() -> Compound:
    return build_compound(7)


def local_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), TZ).astimezone(UTC)


def run(spec: SystemSpec, day: dt.date, *, days: int = 1, window_s: float = 86400.0, seed: int = 1,
        **kw: Any) -> list[Event]:
    """All events of `days` local days from `day`, asked for in windows of `window_s` seconds."""
    sim = spec.make_simulator(compound(), default_calendar(), seed=seed, tz=TZ, **kw)
    start = local_start(day)
    out: list[Event] = []
    step = dt.timedelta(seconds=window_s)
    t = start
    while t < start + dt.timedelta(days=days):
        out.extend(sim.events_between(t, t + step))
        t += step
    return out


def count(events: list[Event]) -> Counter[str]:
    return Counter(e.schema_name() for e in events)


def encoded(events: list[Event]) -> list[bytes]:
    return [msgspec.json.encode(e) for e in events]


def assert_ordered_in_windows(spec: SystemSpec, day: dt.date, window_s: float, seq_start: int = 0) -> None:
    """Each window yields only its own events, in time order, with consecutive seq, in UTC."""
    sim = spec.make_simulator(compound(), default_calendar(), seed=3, tz=TZ, seq_start=seq_start)
    start = local_start(day)
    seq, last = seq_start, start
    for k in range(int(86400 // window_s)):
        lo, hi = start + dt.timedelta(seconds=k * window_s), start + dt.timedelta(seconds=(k + 1) * window_s)
        for ev in sim.events_between(lo, hi):
            assert lo <= ev.ts < hi
            assert ev.ts >= last
            assert ev.ts.utcoffset() == dt.timedelta(0)
            assert ev.seq == seq + 1
            assert ev.source == f"sim.{spec.name}"
            seq, last = ev.seq, ev.ts
    assert seq > seq_start


def max_gap_s(events: list[Event], start: dt.datetime, end: dt.datetime) -> float:
    """Longest silence in [start, end), counting the edges of the span."""
    times = [start, *(e.ts for e in events), end]
    return max((b - a).total_seconds() for a, b in zip(times, times[1:]))


def assert_heartbeat(spec: SystemSpec, day: dt.date, days: int = 1, **kw: Any) -> None:
    events = run(spec, day, days=days, **kw)
    start = local_start(day)
    gap = max_gap_s(events, start, start + dt.timedelta(days=days))
    assert gap <= spec.expected_interval_s, f"{spec.name}: silent for {gap:.0f} s on {day}"


def assert_round_trip(events: list[Event], spec: SystemSpec) -> None:
    """One event of every schema the system declares survives JSON encoding and decoding."""
    seen: dict[str, Event] = {}
    for ev in events:
        seen.setdefault(ev.schema_name(), ev)
    assert set(seen) == {cls.schema_name() for cls in spec.events}
    for ev in seen.values():
        assert msgspec.json.decode(msgspec.json.encode(ev), type=type(ev)) == ev


def json_samples(name: str) -> list[dict[str, Any]]:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def csv_samples(name: str) -> list[dict[str, str]]:
    with (SAMPLES / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def assert_connectors_agree(spec: SystemSpec) -> list[Event]:
    """The JSON and CSV samples hold the same records: both connectors give the same events
    (sources aside), every record maps, and a re-sent record keeps its key."""
    js = [spec.connectors["json"](rec) for rec in json_samples(spec.name)]
    cs = [spec.connectors["csv"](rec) for rec in csv_samples(spec.name)]
    assert len(js) == len(cs) > 0
    for a, b in zip(js, cs):
        assert a.source == f"vendor.{spec.name}.json" and b.source == f"vendor.{spec.name}.csv"
        assert msgspec.structs.replace(b, source=a.source) == a
    again = [spec.connectors["json"](rec) for rec in json_samples(spec.name)]
    assert [e.key for e in again] == [e.key for e in js]
    assert len({e.key for e in js}) == len(js)
    return js
