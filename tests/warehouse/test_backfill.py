"""Backfill: day windows, rows and rollups, re-runs and live data side by side, the real registry."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, inspect, select

from domain.calendar import default_calendar
from domain.compound import build_compound
from tests.warehouse.checks import assert_rollups_match_facts, duplicate_keys, fact_counts
from tests.warehouse.samples import make_events, sample_systems
from warehouse.backfill import backfill, day_windows, is_empty
from warehouse.db import make_engine
from warehouse.facts import FactTables
from warehouse.ops import rollup_daily, rollup_hourly
from warehouse.rollups import sequence_gaps
from warehouse.schema import create_schema
from warehouse.sink import Sink

SH = ZoneInfo("Asia/Shanghai")
END = dt.datetime(2025, 3, 5, tzinfo=SH)  # local midnight: exactly `days` whole days before it


def rollups(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for t in (rollup_hourly, rollup_daily) for r in conn.execute(select(t).order_by(*t.c))]


@pytest.fixture
def backfill_engine(db_url: str, warehouse: Engine) -> Engine:
    engine = make_engine(db_url, role="backfill")
    yield engine
    engine.dispose()


def test_day_windows_follow_local_days() -> None:
    windows = list(day_windows(2, END, SH))
    assert [(a.astimezone(SH).isoformat(), b.astimezone(SH).isoformat()) for a, b in windows] == [
        ("2025-03-03T00:00:00+08:00", "2025-03-04T00:00:00+08:00"),
        ("2025-03-04T00:00:00+08:00", "2025-03-05T00:00:00+08:00")]
    partial = list(day_windows(1, END + dt.timedelta(hours=10, minutes=30), SH))
    assert len(partial) == 2 and partial[-1][1] == END + dt.timedelta(hours=10, minutes=30)


def test_two_days_of_history_with_consistent_rollups(backfill_engine: Engine, tables: FactTables) -> None:
    assert is_empty(backfill_engine)
    stats = backfill(backfill_engine, sample_systems(), build_compound(7, staff=300), default_calendar(),
                     days=2, end=END, seed=11, tz=SH, progress=False, tables=tables)
    assert stats.rows == stats.new_rows == 3 * 2 * 144 and stats.days == 2
    assert stats.by_schema == {"shop.sale": 288, "meter.reading": 288, "door.ping": 288}
    assert stats.generate_s > 0 and stats.write_s > 0 and stats.wall_s > 0 and "rows/s" in stats.summary()
    assert not is_empty(backfill_engine)
    inspector = inspect(backfill_engine)  # the secondary indexes dropped for the load are back
    for ft in tables:
        assert {i["name"] for i in inspector.get_indexes(ft.table.name)} == {i.name for i in ft.table.indexes}
    assert sequence_gaps(backfill_engine) == {"backfill.shop": 0, "backfill.meter": 0, "backfill.door": 0}
    assert_rollups_match_facts(backfill_engine, tables)
    with backfill_engine.connect() as conn:
        days = conn.execute(select(rollup_daily.c.day, func.sum(rollup_daily.c.n)).group_by(rollup_daily.c.day)
                            .order_by(rollup_daily.c.day)).all()
    assert days == [(dt.date(2025, 3, 3), 432), (dt.date(2025, 3, 4), 432)]


def test_a_second_run_with_the_same_seed_adds_nothing(backfill_engine: Engine, tables: FactTables) -> None:
    args = dict(compound=build_compound(7, staff=300), calendar=default_calendar(), days=2, end=END, seed=11,
                tz=SH, progress=False, tables=tables)
    backfill(backfill_engine, sample_systems(), **args)
    before_facts, before_rollups = fact_counts(backfill_engine, tables), rollups(backfill_engine)
    again = backfill(backfill_engine, sample_systems(), **args)
    assert again.rows == 864 and again.new_rows == 0
    assert fact_counts(backfill_engine, tables) == before_facts
    assert rollups(backfill_engine) == before_rollups
    assert duplicate_keys(backfill_engine, tables) == 0
    longer = backfill(backfill_engine, sample_systems(), **{**args, "days": 3})  # one more day, earlier
    assert longer.new_rows == 432
    assert_rollups_match_facts(backfill_engine, tables)


def test_backfill_next_to_live_data_adds_up(warehouse: Engine, backfill_engine: Engine, tables: FactTables) -> None:
    live = make_events(500, source="sim.live", start=END - dt.timedelta(hours=20), step_s=60)
    Sink(warehouse, tables).write_batch(live, stream="ev:x", group="g", consumer="c", last_id="1-0",
                                        deltas=lambda new: {})
    assert not is_empty(warehouse)
    stats = backfill(backfill_engine, sample_systems(), build_compound(7, staff=300), default_calendar(),
                     days=1, end=END, seed=3, tz=SH, progress=False, tables=tables)
    assert sum(fact_counts(warehouse, tables).values()) == 500 + stats.new_rows == 500 + 432
    assert sequence_gaps(warehouse)["sim.live"] == 0
    assert_rollups_match_facts(warehouse, tables)


def test_backfill_of_the_real_systems(db_url: str) -> None:
    try:
        from datasources.registry import SYSTEMS
        from warehouse.schema import registry_fact_tables
        real = registry_fact_tables()
    except ImportError as exc:
        pytest.skip(f"datasources.registry does not import yet ({exc}); the sample systems cover the mechanism")
    engine = make_engine(db_url, role="backfill")
    create_schema(engine, real)
    stats = backfill(engine, SYSTEMS, build_compound(7), default_calendar(), days=1, end=END, seed=7, tz=SH,
                     progress=False, tables=real)
    assert stats.new_rows == stats.rows > 1000
    assert {name.split(".")[0] for name, n in stats.by_schema.items() if n} == set(SYSTEMS)
    assert all(gap == 0 for gap in sequence_gaps(engine).values())
    assert_rollups_match_facts(engine, real)
    engine.dispose()


def test_worker_processes_write_the_same_history(backfill_engine: Engine, tables: FactTables) -> None:
    args = dict(compound=build_compound(7, staff=300), calendar=default_calendar(), days=2, end=END, seed=11,
                tz=SH, progress=False, tables=tables)
    parallel = backfill(backfill_engine, sample_systems(), workers=2, **args)
    assert parallel.rows == parallel.new_rows == 864 and parallel.days == 2
    assert parallel.by_schema == {"shop.sale": 288, "meter.reading": 288, "door.ping": 288}
    assert_rollups_match_facts(backfill_engine, tables)
    assert backfill(backfill_engine, sample_systems(), **args).new_rows == 0  # same keys as one process
