"""Incremental rollups and sequence coverage, folded in Python then upserted once per group.

Aggregating a batch first keeps the cost per batch at a few dozen upserts however many events
it holds (a 1,000-event batch of one schema usually touches one or two hours). Only events that
were new to the warehouse are folded in, so a duplicate delivery never counts twice. Daily
totals are derived from the hourly groups by the local day of each hour, so they always equal
the sum of their hours (exact for whole-hour zones such as Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Insert

from datasources.base import Event
from warehouse.facts import FactTable
from warehouse.ops import rollup_daily, rollup_hourly, rollup_hourly_dim, source_seq
from warehouse.sqltypes import UTC

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Increments:
    """What a set of new events adds to the rollups and to each source's sequence coverage."""

    hourly: dict[tuple[str, int], list[Any]] = field(default_factory=dict)  # (schema, epoch hour) -> [n, sum]
    hourly_dim: dict[tuple[str, str, str, int], list[Any]] = field(default_factory=dict)
    seq: dict[str, list[int]] = field(default_factory=dict)  # source -> [min, max, n]

    def add(self, ft: FactTable, events: Iterable[Event]) -> None:
        """Fold events of one fact table (all new to the warehouse) into the increments."""
        schema, measure, dim = ft.schema, ft.measure, ft.dim
        hourly, hourly_dim, seq = self.hourly, self.hourly_dim, self.seq
        for e in events:
            hour = int(e.ts.timestamp() // 3600)
            amount = None
            if measure is not None:
                amount = getattr(e, measure)
                amount = 0.0 if amount is None else float(amount)
            acc = hourly.get((schema, hour))
            if acc is None:
                hourly[(schema, hour)] = [1, amount]
            else:
                acc[0] += 1
                if amount is not None:
                    acc[1] += amount
            if dim is not None:
                value = getattr(e, dim)
                k = (schema, dim, "" if value is None else str(value), hour)
                acc = hourly_dim.get(k)
                if acc is None:
                    hourly_dim[k] = [1, amount]
                else:
                    acc[0] += 1
                    if amount is not None:
                        acc[1] += amount
            s = seq.get(e.source)
            if s is None:
                seq[e.source] = [e.seq, e.seq, 1]
            else:
                if e.seq < s[0]:
                    s[0] = e.seq
                elif e.seq > s[1]:
                    s[1] = e.seq
                s[2] += 1

    def daily(self, tz: dt.tzinfo) -> dict[tuple[str, dt.date], list[Any]]:
        out: dict[tuple[str, dt.date], list[Any]] = {}
        for (schema, hour), (n, amount) in self.hourly.items():
            day = dt.datetime.fromtimestamp(hour * 3600, tz).date()
            acc = out.get((schema, day))
            if acc is None:
                out[(schema, day)] = [n, amount]
            else:
                acc[0] += n
                if amount is not None:
                    acc[1] += amount
        return out

    def apply(self, conn: Connection, tz: dt.tzinfo = DEFAULT_TZ) -> None:
        """Upsert with +=, in key order so concurrent writers take row locks in one order."""
        st = _statements(conn.dialect.name)

        def hour(h: int) -> dt.datetime:
            return dt.datetime.fromtimestamp(h * 3600, UTC)

        if self.hourly:
            conn.execute(st["hourly"], [{"schema": s, "hour_utc": hour(h), "n": n, "amount_sum": a}
                                        for (s, h), (n, a) in sorted(self.hourly.items())])
            conn.execute(st["daily"], [{"schema": s, "day": d, "n": n, "amount_sum": a}
                                       for (s, d), (n, a) in sorted(self.daily(tz).items())])
        if self.hourly_dim:
            conn.execute(st["hourly_dim"], [
                {"schema": s, "dim": d, "dim_value": v, "hour_utc": hour(h), "n": n, "amount_sum": a}
                for (s, d, v, h), (n, a) in sorted(self.hourly_dim.items())])
        if self.seq:
            conn.execute(st["seq"], [{"source": s, "min_seq": lo, "max_seq": hi, "n": n}
                                     for s, (lo, hi, n) in sorted(self.seq.items())])


@cache
def _statements(dialect: str) -> dict[str, Insert]:
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert

    def adding(table: Any) -> Insert:
        stmt = insert(table)
        keys = [c.name for c in table.primary_key.columns]
        return stmt.on_conflict_do_update(index_elements=keys, set_={
            "n": table.c.n + stmt.excluded.n, "amount_sum": table.c.amount_sum + stmt.excluded.amount_sum})

    seq = insert(source_seq)
    ex, t = seq.excluded, source_seq.c
    seq = seq.on_conflict_do_update(index_elements=["source"], set_={
        "min_seq": case((ex.min_seq < t.min_seq, ex.min_seq), else_=t.min_seq),
        "max_seq": case((ex.max_seq > t.max_seq, ex.max_seq), else_=t.max_seq),
        "n": t.n + ex.n,
    })
    return {"hourly": adding(rollup_hourly), "hourly_dim": adding(rollup_hourly_dim),
            "daily": adding(rollup_daily), "seq": seq}


def sequence_gaps(engine: Engine | Connection) -> dict[str, int]:
    """Missing events per source (max - min + 1 - n); 0 means no hole in what was received."""
    stmt = select(source_seq.c.source, source_seq.c.max_seq - source_seq.c.min_seq + 1 - source_seq.c.n)
    if isinstance(engine, Connection):
        return {s: int(g) for s, g in engine.execute(stmt)}
    with engine.connect() as conn:
        return {s: int(g) for s, g in conn.execute(stmt)}
