"""The queries a screen panel binds: answers from the rollups and the buildings' master data, and the exact
messages a screen file gets for a bad binding."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, insert

from domain.calendar import default_calendar
from tests.warehouse.test_queries import MON, SH, TUE, local, sales  # noqa: F401 - `sales` is a fixture
from warehouse.models import Building, Unit
from warehouse.panel_queries import (
    PANEL_QUERIES,
    QueryContext,
    period_bounds,
    query_problems,
    quota_share,
    run_query,
)


def ctx(now: dt.datetime, lang: str = "zh") -> QueryContext:
    return QueryContext(now=now, tz=SH, calendar=default_calendar(), lang=lang)


@pytest.fixture
def named(sales: Engine) -> Engine:  # noqa: F811
    with sales.begin() as conn:
        conn.execute(insert(Building), [
            {"id": "B01", "name": "1号楼", "floors": 5, "area_m2": 10_000.0, "quota_kwh_m2_year": 73.0,
             "lat": 0, "lon": 0},
            {"id": "B02", "name": "2号楼", "floors": 5, "area_m2": 5_000.0, "quota_kwh_m2_year": 146.0,
             "lat": 0, "lon": 0}])
        conn.execute(insert(Unit), [
            {"id": "U01", "name": "办公厅", "name_en": "General Office", "building_id": "B01"},
            {"id": "U02", "name": "财政局", "name_en": "Finance", "building_id": "B02"}])
    return sales


def test_values_rows_and_points(named: Engine) -> None:
    at = ctx(local(TUE, 10, 20))
    with named.connect() as conn:
        assert run_query(conn, "total_between", {"schema": "shop.sale", "period": "yesterday"}, at) == {"value": 3.0}
        assert run_query(conn, "total_between", {"schema": "shop.sale", "period": "last_7_days",
                                                 "measure": "amount"}, at) == {"value": 10.5}
        assert run_query(conn, "last_comparable_total", {"schema": "shop.sale"}, at) == {"value": 2.0}
        assert run_query(conn, "totals_by_dim", {"schema": "shop.sale", "period": "last_7_days"}, at) == {"rows": [
            {"key": "U01", "label": "办公厅", "value": 3.0}, {"key": "U02", "label": "财政局", "value": 1.0}]}
        english = run_query(conn, "totals_by_dim", {"schema": "shop.sale", "period": "last_7_days",
                                                    "measure": "amount"}, ctx(local(TUE, 10, 20), "en"))
        assert [(r["label"], r["value"]) for r in english["rows"]] == [("General Office", 8.5), ("Finance", 2.0)]
        days = run_query(conn, "daily_counts", {"schema": "shop.sale", "days": 3}, at)["points"]
        assert [v for _, v in days] == [0.0, 3.0, 1.0]
        assert days[1][0] == int(dt.datetime.combine(MON, dt.time(), SH).timestamp() * 1000)
        hours = run_query(conn, "hourly_series", {"schema": "shop.sale", "hours": 3}, at)["points"]
        assert [v for _, v in hours] == [1.0, 0.0, 0.0]  # 08:00, 09:00 and the hour in progress (10:00)
        # (10,000 m² x 73 + 5,000 m² x 146) kWh a year, today's share (a working day)
        share = quota_share(TUE, default_calendar(), 40)
        assert run_query(conn, "electricity_quota_day", {}, at) == {"value": round(1_460_000 * share)}
        assert run_query(conn, "electricity_quota_day", {"base_pct": 100}, at) == {"value": 4000}  # flat: 1/365


def test_a_days_quota_share_follows_the_kind_of_day() -> None:
    cal = default_calendar()
    saturday, holiday, makeup = dt.date(2025, 3, 8), dt.date(2025, 10, 1), dt.date(2025, 1, 26)
    assert quota_share(saturday, cal, 40) == pytest.approx(0.4 / 365)  # the base load only
    assert quota_share(holiday, cal, 40) == quota_share(saturday, cal, 40)
    assert quota_share(makeup, cal, 40) == quota_share(TUE, cal, 40) > 2.5 * quota_share(saturday, cal, 40)
    year = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    assert sum(quota_share(d, cal, 40) for d in year) == pytest.approx(1.0)


def test_periods_are_local_days() -> None:
    now = local(TUE, 10, 20)
    assert period_bounds("today", ctx(now)) == (local(TUE, 0), now)
    assert period_bounds("yesterday", ctx(now)) == (local(MON, 0), local(TUE, 0))
    assert period_bounds("this_month", ctx(now)) == (local(dt.date(2025, 3, 1), 0), now)


@pytest.mark.parametrize(("panel", "name", "params", "problems"), [
    ("ranking", "totals_by_dim", {"schema": "property.order_created", "period": "today"}, []),
    ("kpi", "totals_by_dim", {"schema": "s"},
     [("query", "a kpi panel cannot show 'totals_by_dim' (it answers rows); queries for it: electricity_quota_day, "
                "last_comparable_total, total_between")]),
    ("heatmap", "total_between", {"schema": "s"},
     [("query", "a heatmap panel cannot show 'total_between' (it answers value); it binds live metrics only")]),
    ("trend", "daily_counts", {"schema": "s", "days": 200, "unit": "U01"},
     [("params.unit", "'daily_counts' has no parameter 'unit'; its parameters: schema, days, measure"),
      ("params.days", "expected an integer from 2 to 90, got 200")]),
    ("kpi", "total_between", {"period": "week"},
     [("params", "'total_between' needs the parameter 'schema'"),
      ("params.period", "expected one of today, yesterday, last_7_days, last_30_days, this_month, got 'week'")]),
])
def test_binding_problems(panel: str, name: str, params: dict, problems: list) -> None:
    assert query_problems(panel, name, params) == problems


def test_every_query_has_a_panel_that_can_show_it() -> None:
    from warehouse.panel_queries import SHAPES_BY_PANEL

    shown = set().union(*SHAPES_BY_PANEL.values())
    assert {q.shape for q in PANEL_QUERIES.values()} <= shown
