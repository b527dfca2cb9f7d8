"""Named read queries for the pages, answered from the rollups (milliseconds on a year of data).

Plain functions over a Connection returning plain data, so callbacks stay thin and tests can
check each answer against a GROUP BY over the facts. Days are local days (Asia/Shanghai by
default); hours are UTC, zone-aware.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import Connection, func, select

from domain.calendar import HolidayCalendar
from warehouse.ops import rollup_daily, rollup_hourly, rollup_hourly_dim
from warehouse.rollups import DEFAULT_TZ
from warehouse.sqltypes import UTC



class Total(NamedTuple):
    n: int
    amount_sum: float | None


class DayTotal(NamedTuple):
    day: dt.date
    n: int
    amount_sum: float | None


class HourTotal(NamedTuple):
    hour_utc: dt.datetime
    n: int
    amount_sum: float | None


def daily_counts(conn: Connection, schema: str, days: int, *, today: dt.date | None = None,
                 tz: dt.tzinfo = DEFAULT_TZ) -> list[DayTotal]:
    """The last `days` local days up to and including `today`, oldest first, missing days as 0."""
    today = today or dt.datetime.now(tz).date()
    first = today - dt.timedelta(days=days - 1)
    t = rollup_daily.c
    found = {r.day: r for r in conn.execute(
        select(t.day, t.n, t.amount_sum).where(t.schema == schema, t.day >= first, t.day <= today))}
    out = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        r = found.get(day)
        out.append(DayTotal(day, r.n, r.amount_sum) if r else DayTotal(day, 0, None))
    return out


def hourly_series(conn: Connection, schema: str, start: dt.datetime, end: dt.datetime) -> list[HourTotal]:
    """Whole UTC hours from the one holding `start` up to (excluding) `end`, missing hours as 0."""
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    t = rollup_hourly.c
    found = {r.hour_utc: r for r in conn.execute(
        select(t.hour_utc, t.n, t.amount_sum).where(t.schema == schema, t.hour_utc >= first, t.hour_utc < end))}
    out = []
    hour = first
    while hour < end:
        r = found.get(hour)
        out.append(HourTotal(hour, r.n, r.amount_sum) if r else HourTotal(hour, 0, None))
        hour += dt.timedelta(hours=1)
    return out


def total_between(conn: Connection, schema: str, start: dt.datetime, end: dt.datetime) -> Total:
    """Events and measure sum in whole hours [start, end)."""
    t = rollup_hourly.c
    n, amount = conn.execute(select(func.coalesce(func.sum(t.n), 0), func.sum(t.amount_sum)).where(
        t.schema == schema, t.hour_utc >= start, t.hour_utc < end)).one()
    return Total(int(n), amount)


def last_comparable_total(conn: Connection, schema: str, calendar: HolidayCalendar, *, now: dt.datetime,
                          tz: dt.tzinfo = DEFAULT_TZ, same_time: bool = True) -> DayTotal | None:
    """The total of the last day of the same kind as `now`'s day (working day, weekend, holiday).

    With `same_time`, only up to the start of `now`'s local hour (rollups are hourly), so a wall
    at 10:20 compares 00:00-10:00 of both days, not a morning with a whole day. None when no such day.
    """
    local = now.astimezone(tz)
    day = calendar.last_comparable_day(local.date())
    if day is None:
        return None
    start = dt.datetime.combine(day, dt.time(), tz)
    if same_time:
        end = dt.datetime.combine(day, dt.time(local.hour), tz)
    else:
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
    total = total_between(conn, schema, start, end)
    return DayTotal(day, total.n, total.amount_sum)


def totals_by_dim(conn: Connection, schema: str, start: dt.datetime, end: dt.datetime) -> dict[str, Total]:
    """Per unit (or building) totals in [start, end), for rankings and portraits."""
    t = rollup_hourly_dim.c
    rows = conn.execute(select(t.dim_value, func.sum(t.n), func.sum(t.amount_sum))
                        .where(t.schema == schema, t.hour_utc >= start, t.hour_utc < end)
                        .group_by(t.dim_value))
    return {v: Total(int(n), a) for v, n, a in rows}
