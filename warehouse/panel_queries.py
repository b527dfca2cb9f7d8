"""The named warehouse queries a screen panel may bind (`bind: {query: NAME, params: {...}}`).

Live metrics cover what happens today; a panel that shows history (last week's meals per day, work
orders by unit this month, today's energy quota from the buildings' master data) binds one of these
instead. Each query declares its parameters and the shape of its answer, so a screen file with an
unknown parameter, a bad value or a query whose shape its panel cannot draw is refused when it is
loaded, with the file and panel named, never when a leader is looking at the wall.

Answers are plain JSON-ready dicts, the same for every panel type of a shape:
``value`` → ``{"value": x}``; ``rows`` → ``{"rows": [{"key", "label", "value"}, ...]}`` largest first;
``points`` → ``{"points": [[epoch_ms, value], ...]}`` oldest first.
"""

from __future__ import annotations

import calendar as cal
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, func, select

from domain.calendar import HolidayCalendar
from warehouse.models import Building, Unit
from warehouse.queries import (
    Total,
    daily_counts,
    hourly_series,
    last_comparable_total,
    total_between,
    totals_by_dim,
)

Shape = Literal["value", "rows", "points"]
# what each panel type can draw from a query; the others bind live metrics only
SHAPES_BY_PANEL: Mapping[str, frozenset[str]] = {
    "kpi": frozenset({"value"}), "gauge": frozenset({"value"}), "donut": frozenset({"value"}),
    "ranking": frozenset({"rows"}), "trend": frozenset({"points"}),
}
PERIODS = ("today", "yesterday", "last_7_days", "last_30_days", "this_month")
MEASURES = ("n", "amount")


@dataclass(frozen=True)
class Param:
    """One parameter: a free word (an event schema), one of `choices`, or an integer in [lo, hi]."""

    kind: Literal["word", "choice", "int"]
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    lo: int = 0
    hi: int = 0

    def problem(self, value: Any) -> str | None:
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= self.hi:
                return f"expected an integer from {self.lo} to {self.hi}, got {value!r}"
        elif self.kind == "choice":
            if value not in self.choices:
                return f"expected one of {', '.join(self.choices)}, got {value!r}"
        elif not isinstance(value, str) or not value:
            return f"expected a name, got {value!r}"
        return None


@dataclass(frozen=True)
class QueryContext:
    """What answers depend on besides the parameters: the time, the compound's zone and calendar."""

    now: dt.datetime
    tz: dt.tzinfo
    calendar: HolidayCalendar
    lang: str = "zh"


@dataclass(frozen=True)
class PanelQuery:
    shape: Shape
    run: Callable[[Connection, Mapping[str, Any], QueryContext], dict[str, Any]]
    params: Mapping[str, Param] = field(default_factory=dict)


SCHEMA = Param("word", required=True)
PERIOD = Param("choice", default="today", choices=PERIODS)
MEASURE = Param("choice", default="n", choices=MEASURES)


def period_bounds(period: str, ctx: QueryContext) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a period in local days; `today` and `this_month` end now."""
    local = ctx.now.astimezone(ctx.tz)
    midnight = dt.datetime.combine(local.date(), dt.time(), ctx.tz)
    if period == "yesterday":
        return midnight - dt.timedelta(days=1), midnight
    if period == "last_7_days":
        return midnight - dt.timedelta(days=6), ctx.now
    if period == "last_30_days":
        return midnight - dt.timedelta(days=29), ctx.now
    if period == "this_month":
        return midnight.replace(day=1), ctx.now
    return midnight, ctx.now


def _measure(total: Total | Any, measure: str) -> float:
    if measure == "amount":
        return round(float(total.amount_sum or 0.0), 2)
    return float(total.n)


def _total(conn: Connection, p: Mapping[str, Any], ctx: QueryContext) -> dict[str, Any]:
    start, end = period_bounds(p["period"], ctx)
    return {"value": _measure(total_between(conn, p["schema"], start, end), p["measure"])}


def _last_comparable(conn: Connection, p: Mapping[str, Any], ctx: QueryContext) -> dict[str, Any]:
    day = last_comparable_total(conn, p["schema"], ctx.calendar, now=ctx.now, tz=ctx.tz)
    return {"value": None if day is None else _measure(day, p["measure"])}


def _labels(conn: Connection, keys: list[str], lang: str) -> dict[str, str]:
    """Unit and building ids shown by name; anything else (a window, a category) as it is."""
    units = {u.id: (u.name_en if lang == "en" else u.name) for u in conn.execute(
        select(Unit.id, Unit.name, Unit.name_en).where(Unit.id.in_(keys)))}
    buildings = dict(conn.execute(select(Building.id, Building.name).where(Building.id.in_(keys))).all())
    return {k: units.get(k) or buildings.get(k) or k for k in keys}


def _by_dim(conn: Connection, p: Mapping[str, Any], ctx: QueryContext) -> dict[str, Any]:
    start, end = period_bounds(p["period"], ctx)
    totals = {k: _measure(t, p["measure"]) for k, t in totals_by_dim(conn, p["schema"], start, end).items() if k}
    names = _labels(conn, list(totals), ctx.lang)
    rows = sorted(({"key": k, "label": names[k], "value": v} for k, v in totals.items()),
                  key=lambda r: (-r["value"], r["label"]))
    return {"rows": rows}


def _daily(conn: Connection, p: Mapping[str, Any], ctx: QueryContext) -> dict[str, Any]:
    today = ctx.now.astimezone(ctx.tz).date()
    days = daily_counts(conn, p["schema"], p["days"], today=today, tz=ctx.tz)
    return {"points": [[_ms(dt.datetime.combine(d.day, dt.time(), ctx.tz)), _measure(d, p["measure"])]
                       for d in days]}


def _hourly(conn: Connection, p: Mapping[str, Any], ctx: QueryContext) -> dict[str, Any]:
    end = ctx.now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    hours = hourly_series(conn, p["schema"], end - dt.timedelta(hours=p["hours"]), end)
    return {"points": [[_ms(h.hour_utc), _measure(h, p["measure"])] for h in hours]}


def quota_share(day: dt.date, calendar: HolidayCalendar, base_pct: int) -> float:
    """The share of a year's electricity quota that falls on `day`.

    A flat 1/365 would call every working day over quota and every weekend far under it. Instead the base
    load (`base_pct` % of the year: servers, lifts, lighting at night) spreads over all days, the rest over
    the working days of the calendar (make-up working days included, holidays excluded).
    """
    first = dt.date(day.year, 1, 1)
    days = 366 if cal.isleap(day.year) else 365
    working = sum(calendar.is_working(first + dt.timedelta(days=i)) for i in range(days))
    base = base_pct / 100
    return base / days + ((1 - base) / working if calendar.is_working(day) and working else 0.0)


def _electricity_quota(conn: Connection, p: Mapping[str, Any], ctx: QueryContext) -> dict[str, Any]:
    """Today's share of the buildings' annual quotas (能耗定额, kWh per m² per year, from the building master data)."""
    annual = conn.execute(select(func.sum(Building.area_m2 * Building.quota_kwh_m2_year))).scalar()
    if annual is None:
        return {"value": None}
    return {"value": round(float(annual) * quota_share(ctx.now.astimezone(ctx.tz).date(), ctx.calendar,
                                                        p["base_pct"]))}


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


PANEL_QUERIES: dict[str, PanelQuery] = {
    "total_between": PanelQuery("value", _total, {"schema": SCHEMA, "period": PERIOD, "measure": MEASURE}),
    "last_comparable_total": PanelQuery("value", _last_comparable, {"schema": SCHEMA, "measure": MEASURE}),
    "totals_by_dim": PanelQuery("rows", _by_dim, {"schema": SCHEMA, "period": PERIOD, "measure": MEASURE}),
    "daily_counts": PanelQuery("points", _daily, {"schema": SCHEMA, "days": Param("int", default=14, lo=2, hi=90),
                                                  "measure": MEASURE}),
    "hourly_series": PanelQuery("points", _hourly, {"schema": SCHEMA, "hours": Param("int", default=24, lo=2, hi=168),
                                                    "measure": MEASURE}),
    "electricity_quota_day": PanelQuery("value", _electricity_quota,
                                        {"base_pct": Param("int", default=40, lo=0, hi=100)}),
}


def query_problems(panel_type: str, name: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, message) for everything wrong with binding `name` with `params` on a `panel_type` panel."""
    q = PANEL_QUERIES[name]
    out: list[tuple[str, str]] = []
    shapes = SHAPES_BY_PANEL.get(panel_type, frozenset())
    if q.shape not in shapes:
        fits = sorted(n for n, other in PANEL_QUERIES.items() if other.shape in shapes)
        out.append(("query", f"a {panel_type} panel cannot show '{name}' (it answers {q.shape}); "
                             + (f"queries for it: {', '.join(fits)}" if fits else "it binds live metrics only")))
    for key in params:
        if key not in q.params:
            known = ", ".join(q.params) or "none"
            out.append((f"params.{key}", f"'{name}' has no parameter '{key}'; its parameters: {known}"))
    for key, spec in q.params.items():
        if key not in params:
            if spec.required:
                out.append(("params", f"'{name}' needs the parameter '{key}'"))
            continue
        problem = spec.problem(params[key])
        if problem:
            out.append((f"params.{key}", problem))
    return out


def run_query(conn: Connection, name: str, params: Mapping[str, Any], ctx: QueryContext) -> dict[str, Any]:
    """The answer of a binding already checked by `query_problems`, defaults filled in."""
    q = PANEL_QUERIES[name]
    full = {k: params.get(k, spec.default) for k, spec in q.params.items()}
    return q.run(conn, full, ctx)



def _checker(name: str) -> Callable[[str, Mapping[str, Any]], list[tuple[str, str]]]:
    def check(panel_type: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        return query_problems(panel_type, name, params)

    return check


# the queries a screen may bind, each with the check screens.rules.Catalogue runs on its bindings
NAMED_QUERIES = {name: _checker(name) for name in PANEL_QUERIES}
