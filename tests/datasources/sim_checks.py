"""Checks shared by the tests of the ten access-layer systems.

Every simulator owes the same promises (reproducible, ordered, inside its windows, never
silent past its expected interval, scaled by `rate`), and every connector the same
(a vendor record maps to its event, a re-sent record keeps its key), so the tests state
them once here: `test_contract.py` runs the simulator promises for every system, and each
system's test module adds what is particular to it, building its examples with `Decoder`
and its bad vendor records with `connector_error`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from datasources.base import UTC, Event, SchemaError, SystemSpec
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
            assert lo <= ev.ts < hi, f"{spec.name}: {ev.ts} is outside the window [{lo}, {hi})"
            assert ev.ts >= last, f"{spec.name}: {ev.ts} comes after {last}"
            assert ev.ts.utcoffset() == dt.timedelta(0), f"{spec.name}: {ev.ts} is not in UTC"
            assert ev.seq == seq + 1, f"{spec.name}: seq {ev.seq} follows {seq}"
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
    settings = "".join(f", {k}={v}" for k, v in kw.items())
    assert gap <= spec.expected_interval_s, f"{spec.name}: silent for {gap:.0f} s on {day}{settings}"


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


class Decoder:
    """Example events decoded from JSON, as the stream consumer decodes them.

    `decode(cls, body, **changes)` puts the envelope (event time `ts`), `body` and `changes` into
    one JSON object and decodes it as `cls`; without `body`, the class's entry in `bodies` is used.
    `decode.error(...)` takes the same arguments and gives the message the example is rejected with.
    """

    def __init__(self, ts: str, bodies: Mapping[type, Mapping[str, Any]] | None = None):
        self.envelope = {"v": 1, "source": "t", "ts": ts, "key": "k1", "seq": 1}
        self.bodies = bodies or {}

    def __call__(self, cls: type[Any], body: Mapping[str, Any] | None = None, /, **changes: Any) -> Any:
        fields = self.bodies[cls] if body is None else body
        raw = msgspec.json.encode({"schema": cls.schema_name(), **self.envelope, **fields, **changes})
        return msgspec.json.decode(raw, type=cls)

    def error(self, cls: type[Any], body: Mapping[str, Any] | None = None, /, **changes: Any) -> str:
        with pytest.raises(msgspec.ValidationError) as err:
            self(cls, body, **changes)
        return str(err.value)


def connector_error(spec: SystemSpec, fmt: str, index: int, changes: Mapping[str, Any]) -> str:
    """The message `spec`'s `fmt` connector rejects sample record `index` with, after `changes`."""
    record = (json_samples if fmt == "json" else csv_samples)(spec.name)[index] | changes
    with pytest.raises(SchemaError) as err:
        spec.connectors[fmt](record)
    return str(err.value)


def load_ratios(spec: SystemSpec, rate: float, schema: str, **kw: Any) -> tuple[float, float]:
    """How many times the events of `schema`, and the events in all, a working day gives at load
    `rate` compared with rate 1 (other run() arguments in `kw`)."""
    base, fast = count(run(spec, WORKDAY, **kw)), count(run(spec, WORKDAY, rate=rate, **kw))
    return fast[schema] / base[schema], sum(fast.values()) / sum(base.values())
