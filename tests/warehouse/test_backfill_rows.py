"""The backfill's fast path (fact rows straight from the simulators' records, warehouse/simrows.py)
against the normal path (Events, then `FactTable.rows`): for days of every real system, the same
rows value for value and type for type, the same hours, the same sealing under gm, and in the
database the same facts and rollups, from one process or two, and nothing new on a second run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text

from auth.crypto import GmBackend, Keys, StandardBackend
from datasources.base import Event, Simulator, SystemSpec
from datasources.registry import SYSTEMS
from datasources.simkit import Day, HourlySimulator, Record, ticks
from domain.calendar import default_calendar
from domain.compound import build_compound
from tests.warehouse.checks import assert_rollups_match_facts, fact_counts
from tests.warehouse.samples import Reading
from warehouse.backfill import backfill, day_windows
from warehouse.db import make_engine
from warehouse.facts import FactTables
from warehouse.ops import rollup_daily, rollup_hourly, rollup_hourly_dim, source_seq
from warehouse.protect import FactSealer
from warehouse.schema import create_schema, registry_fact_tables
from warehouse.simrows import RowMaker, TableRows

SH = ZoneInfo("Asia/Shanghai")
END = dt.datetime(2025, 10, 1, tzinfo=SH)  # Mon 29 and Tue 30 Sep: a workday, then the eve of National Day
DIALECTS = ("sqlite", "postgresql")


def both_paths(name: str, dialect: str, sealer: FactSealer, days: int = 2) -> tuple[list[TableRows], list[TableRows]]:
    """(normal, fast) rows of one system over `days` day windows, the tables of each window in name order."""
    tables, compound = registry_fact_tables(), build_compound(7)
    spec, source = SYSTEMS[name], f"backfill.{name}"
    built = spec.make_simulator(compound, default_calendar(), seed=5, tz=SH, source=source)
    direct = spec.make_simulator(compound, default_calendar(), seed=5, tz=SH, source=source)
    maker = RowMaker(tables, dialect, source, sealer)
    normal: list[TableRows] = []
    fast: list[TableRows] = []
    for w0, w1 in day_windows(days, END, SH):
        events = list(built.events_between(w0, w1))
        normal += [TableRows.of_events(ft, evs, dialect, sealer) for ft, evs in tables.group(events)]
        fast += sorted(maker.rows(direct.records_between(w0, w1)), key=lambda b: b.ft.table.name)
    return normal, fast


def typed(row: Any) -> list[tuple[type, Any]]:
    return [(type(v), v) for v in row]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", list(SYSTEMS))
def test_fast_rows_equal_the_rows_of_the_built_events(name: str, dialect: str) -> None:
    sealer = FactSealer(StandardBackend(Keys.generate()))  # deterministic: index columns compare as they are
    normal, fast = both_paths(name, dialect, sealer)
    assert [b.ft.schema for b in fast] == [b.ft.schema for b in normal]
    assert sum(len(b.rows) for b in normal) > 100
    for want, got in zip(normal, fast):
        assert [typed(r) for r in got.rows] == [typed(r) for r in want.rows], want.ft.schema
        assert got.hours == want.hours, want.ft.schema


@pytest.mark.parametrize("dialect", DIALECTS)
def test_fast_rows_are_sealed_like_the_built_events_under_gm(dialect: str) -> None:
    sealer = FactSealer(GmBackend(Keys.generate()))
    for name in ("passage", "property", "kindergarten"):
        normal, fast = both_paths(name, dialect, sealer, days=1)
        sealed = 0
        for want, got in zip(normal, fast):
            assert len(got.rows) == len(want.rows)
            for a, b in zip(want.rows, got.rows):
                opened = [list(a), list(b)]
                for value_at, index_at, context in want.ft.protected:
                    assert a[index_at] == b[index_at]  # keyed index: deterministic
                    if a[value_at]:
                        assert b[value_at].startswith("v1.sm4gcm.") and b[value_at] != a[value_at]
                        sealed += 1
                    for row in opened:
                        row[value_at] = sealer.open(row[value_at], context)
                assert opened[0] == opened[1]
        assert sealed > 0, name


def snapshot(engine: Engine, tables: FactTables) -> dict[str, list[tuple[Any, ...]]]:
    """Every fact row by key and every rollup row, as stored (plain SQL, no type decoding)."""
    out = {}
    with engine.connect() as conn:
        for ft in tables:
            stored = conn.execute(text(f'SELECT * FROM "{ft.table.name}" ORDER BY "key"'))
            out[ft.table.name] = [tuple(r) for r in stored]
        for t in (rollup_hourly, rollup_hourly_dim, rollup_daily, source_seq):
            out[t.name] = [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
    return out


class EventsOnly:
    """A simulator seen only through `events_between` (the Simulator protocol): the backfill then
    builds Events and their rows, its normal path."""

    def __init__(self, sim: Simulator):
        self.sim = sim

    def events_between(self, start: dt.datetime, end: dt.datetime) -> Iterator[Event]:
        return self.sim.events_between(start, end)


def events_only(spec: SystemSpec) -> SystemSpec:
    return replace(spec, make_simulator=lambda *args, **kw: EventsOnly(spec.make_simulator(*args, **kw)))


def test_fast_and_normal_backfills_store_the_same_history(db_url: str) -> None:
    tables, compound = registry_fact_tables(), build_compound(7)
    engine = make_engine(db_url, role="backfill")

    def run(systems: Any = SYSTEMS, **kw: Any) -> tuple[dict[str, list[tuple[Any, ...]]], Any]:
        """A backfill into an empty warehouse."""
        create_schema(engine, tables)
        tables.metadata.drop_all(engine, tables=tables.tables)
        with engine.begin() as conn:
            for t in (rollup_hourly, rollup_hourly_dim, rollup_daily, source_seq):
                conn.execute(t.delete())
        create_schema(engine, tables)
        stats = backfill(engine, systems, compound, default_calendar(), days=1, end=END, seed=5, tz=SH,
                         progress=False, tables=tables, **kw)
        return snapshot(engine, tables), stats

    built: list[Event] = []
    normal, normal_stats = run([events_only(spec) for spec in SYSTEMS.values()], observe=built.extend)
    fast, fast_stats = run()
    assert fast_stats.rows == fast_stats.new_rows == normal_stats.new_rows == len(built) > 50_000
    assert fast_stats.by_schema == normal_stats.by_schema
    assert fast == normal
    assert_rollups_match_facts(engine, tables)
    again = backfill(engine, SYSTEMS, compound, default_calendar(), days=1, end=END, seed=5, tz=SH, progress=False,
                     tables=tables)
    assert again.rows == fast_stats.rows and again.new_rows == 0
    assert snapshot(engine, tables) == normal
    observed: list[Event] = []  # the first start: rows from records, Events for live state beside them
    assert run(observe=observed.extend)[0] == normal and observed == built
    parallel, parallel_stats = run(workers=2)
    assert parallel_stats.new_rows == fast_stats.new_rows and parallel == normal
    engine.dispose()


class Doubled(HourlySimulator):
    """Meter readings every 10 minutes, each record handed over twice (a source that repeats itself)."""

    system = "meter"

    def hour(self, day: Day, t0: float, t1: float) -> None:
        for t in ticks(t0, t1, 600.0):
            self.emit(t, Reading, {"building_id": "B01", "meter_id": "M1", "value": self.rng.uniform(0, 10)})

    def records_between(self, start: dt.datetime, end: dt.datetime) -> Iterator[Record]:
        for record in super().records_between(start, end):
            yield record
            yield record


def test_a_row_given_twice_is_stored_and_counted_once(db_url: str, warehouse: Engine, tables: FactTables) -> None:
    spec = SystemSpec(name="meter", title_zh="样例", title_en="Sample", events=(Reading,), expected_interval_s=600,
                      make_simulator=Doubled)
    engine = make_engine(db_url, role="backfill")
    stats = backfill(engine, [spec], build_compound(7, staff=300), default_calendar(), days=1, end=END, seed=5,
                     tz=SH, progress=False, tables=tables)
    assert stats.rows == 2 * 144 and stats.new_rows == 144
    assert fact_counts(engine, tables)["meter.reading"] == 144
    assert_rollups_match_facts(engine, tables)
    engine.dispose()
