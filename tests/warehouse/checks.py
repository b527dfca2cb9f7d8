"""Independent recomputation of the rollups with GROUP BY over the fact tables, to compare with
what the sink and the backfill maintained incrementally."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import BigInteger, Engine, func, literal_column, select, type_coerce, union_all

from warehouse.facts import FactTables
from warehouse.ops import rollup_daily, rollup_hourly, rollup_hourly_dim, source_seq
from warehouse.sqltypes import UTC

SHANGHAI_OFFSET_H = 8  # Asia/Shanghai has had no DST since 1991


def _hour(dialect: str, col: Any) -> Any:  # SQLite keeps times as integer microseconds
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00", type_coerce(col, BigInteger) / 1_000_000, "unixepoch")
    return func.date_trunc("hour", col)


def _local_day(dialect: str, col: Any) -> Any:
    if dialect == "sqlite":
        return func.date(type_coerce(col, BigInteger) / 1_000_000, "unixepoch", f"+{SHANGHAI_OFFSET_H} hours")
    return func.date(func.timezone("Asia/Shanghai", col))


def _as_hour(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _as_day(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _totals(rows: Any) -> dict[tuple, tuple[int, float | None]]:
    return {tuple(r[:-2]): (int(r[-2]), None if r[-1] is None else float(r[-1])) for r in rows}


def _approx(d: dict) -> dict:
    return {k: (n, None if a is None else pytest.approx(a, rel=1e-9, abs=1e-6)) for k, (n, a) in d.items()}


def assert_rollups_match_facts(engine: Engine, tables: FactTables) -> None:
    """rollup_hourly, rollup_hourly_dim, rollup_daily and source_seq equal a GROUP BY over the facts."""
    dialect = engine.dialect.name
    want_h: dict = {}
    want_d: dict = {}
    want_dim: dict = {}
    with engine.connect() as conn:
        for ft in tables:
            t = ft.table
            # a measure that is missing counts as 0; a schema without a measure has no sum at all
            amount = func.coalesce(func.sum(t.c[ft.measure]), 0) if ft.measure else literal_column("NULL")
            hour = _hour(dialect, t.c.ts)
            for r in conn.execute(select(hour, func.count(), amount).group_by(hour)):
                want_h[(ft.schema, _as_hour(r[0]))] = (int(r[1]), None if r[2] is None else float(r[2]))
            day = _local_day(dialect, t.c.ts)
            for r in conn.execute(select(day, func.count(), amount).group_by(day)):
                want_d[(ft.schema, _as_day(r[0]))] = (int(r[1]), None if r[2] is None else float(r[2]))
            if ft.dim:
                dim = func.coalesce(t.c[ft.dim], "")
                for r in conn.execute(select(dim, hour, func.count(), amount).group_by(dim, hour)):
                    want_dim[(ft.schema, ft.dim, r[0], _as_hour(r[1]))] = (
                        int(r[2]), None if r[3] is None else float(r[3]))
        got_h = _totals(conn.execute(select(rollup_hourly)))
        got_d = _totals(conn.execute(select(rollup_daily)))
        got_dim = _totals(conn.execute(select(rollup_hourly_dim)))
        facts = union_all(*(select(ft.table.c.source, ft.table.c.seq) for ft in tables)).subquery()
        seq = facts.c.seq
        want_seq = {s: (lo, hi, n) for s, lo, hi, n in conn.execute(
            select(facts.c.source, func.min(seq), func.max(seq), func.count()).group_by(facts.c.source))}
        got_seq = {s: (lo, hi, n) for s, lo, hi, n in conn.execute(select(source_seq))}
    assert got_h == _approx(want_h)
    assert got_d == _approx(want_d)
    assert got_dim == _approx(want_dim)
    assert got_seq == want_seq


def fact_counts(engine: Engine, tables: FactTables) -> dict[str, int]:
    with engine.connect() as conn:
        return {ft.schema: conn.execute(select(func.count()).select_from(ft.table)).scalar_one() for ft in tables}


def duplicate_keys(engine: Engine, tables: FactTables) -> int:
    """Keys present more than once (must stay 0: the unique index guarantees it)."""
    total = 0
    with engine.connect() as conn:
        for ft in tables:
            k = ft.table.c.key
            total += len(conn.execute(select(k).group_by(k).having(func.count() > 1)).all())
    return total

