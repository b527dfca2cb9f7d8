"""Page queries answered from the rollups."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from datasources.base import make_key
from domain.calendar import default_calendar
from tests.warehouse.samples import Sale
from warehouse.facts import FactTables
from warehouse.queries import (
    DayTotal,
    HourTotal,
    Total,
    daily_counts,
    hourly_series,
    last_comparable_total,
    total_between,
    totals_by_dim,
)
from warehouse.sink import Sink
from warehouse.sqltypes import UTC

SH = ZoneInfo("Asia/Shanghai")
MON, TUE = dt.date(2025, 3, 3), dt.date(2025, 3, 4)  # ordinary working days


def local(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), SH)


def sale(ts: dt.datetime, seq: int, unit: str, amount: str) -> Sale:
    return Sale(source="sim.q", ts=ts, key=make_key(ts, seq), seq=seq, unit_id=unit, amount=Decimal(amount),
                weight=0.0, items=1, paid=True, method="card")


@pytest.fixture
def sales(warehouse: Engine, tables: FactTables) -> Engine:
    events = [sale(local(MON, 8, 30), 1, "U01", "1.50"), sale(local(MON, 9, 30), 2, "U02", "2.00"),
              sale(local(MON, 10, 30), 3, "U01", "3.00"), sale(local(TUE, 8, 30), 4, "U01", "4.00")]
    Sink(warehouse, tables).write_batch(events, stream="s", group="g", consumer="c", last_id="1-0",
                                        deltas=lambda new: {})
    return warehouse


def test_daily_counts_fill_missing_days(sales: Engine) -> None:
    with sales.connect() as conn:
        got = daily_counts(conn, "shop.sale", 3, today=TUE)
    assert got == [DayTotal(dt.date(2025, 3, 2), 0, None), DayTotal(MON, 3, 6.5), DayTotal(TUE, 1, 4.0)]


def test_hourly_series_in_utc_hours(sales: Engine) -> None:
    with sales.connect() as conn:
        got = hourly_series(conn, "shop.sale", local(MON, 8, 15), local(MON, 11))
    hours = [local(MON, h).astimezone(UTC) for h in (8, 9, 10)]
    assert got == [HourTotal(hours[0], 1, 1.5), HourTotal(hours[1], 1, 2.0), HourTotal(hours[2], 1, 3.0)]
    assert all(h.hour_utc.tzinfo == UTC for h in got)


def test_totals_between_and_by_unit(sales: Engine) -> None:
    with sales.connect() as conn:
        assert total_between(conn, "shop.sale", local(MON, 0), local(TUE, 0)) == Total(3, 6.5)
        assert total_between(conn, "door.ping", local(MON, 0), local(TUE, 0)) == Total(0, None)
        assert totals_by_dim(conn, "shop.sale", local(MON, 0), local(TUE, 12)) == {
            "U01": Total(3, 8.5), "U02": Total(1, 2.0)}


def test_last_comparable_total_aligns_by_kind_of_day_and_time(sales: Engine) -> None:
    cal = default_calendar()
    with sales.connect() as conn:
        assert last_comparable_total(conn, "shop.sale", cal, now=local(TUE, 10, 20)) == DayTotal(MON, 2, 3.5)
        assert last_comparable_total(conn, "shop.sale", cal, now=local(TUE, 10, 20), same_time=False) == \
            DayTotal(MON, 3, 6.5)
        weekend = last_comparable_total(conn, "shop.sale", cal, now=local(dt.date(2025, 3, 8), 12))
        assert weekend == DayTotal(dt.date(2025, 3, 2), 0, None)  # Saturday compares with the last Sunday
