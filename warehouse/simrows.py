"""Fact rows built straight from the simulators' records, for the backfill.

Building an Event (msgspec init and schema checks, a datetime, attribute reads) and then its row
costs more than the simulation that produced it, and a year of history is ~40 M events. The
simulators' engine (datasources.simkit) yields each event unbuilt, as (t_ms, key, seq, class,
fields): exactly what the Event is made of. `RowMaker` turns those into the rows `FactTable.rows`
gives for the built Event: same key, source, seq and time, the fields in column order with the
Struct's defaults for those left out, the same driver conversions and the same sealing.
tests/warehouse/test_backfill_rows.py compares both for days of every system on both engines.

The schema checks of `Event.__post_init__` are not repeated here: a simulator that broke its
schema would fail its own tests (tests/datasources) and the comparison above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import msgspec.structs

from datasources.base import UTC, Event
from datasources.simkit import Record, own_fields
from warehouse.facts import BASE_COLUMNS, Convert, FactTable, FactTables

if TYPE_CHECKING:
    from warehouse.protect import FactSealer

_TS = BASE_COLUMNS.index("ts")


@dataclass(frozen=True)
class _Plan:
    """How one Struct's records become rows of its table."""

    ft: FactTable
    defaults: dict[str, Any]
    get: Callable[[dict[str, Any]], tuple[Any, ...]]  # the non-base fields, in column order
    version: int  # the default of `v`, which simulators never set
    # the fields after `v` where it comes first (kw_only schemas, as the registry's) and they are the
    # class's own fields in order, and how many (else -1); a record with just those needs no defaults
    # merged in, and a tuple record (`emit_rows`) is copied as it is
    given: Callable[[dict[str, Any]], tuple[Any, ...]]
    n_given: int
    converters: tuple[tuple[int, Convert], ...]  # all but the time's, which the maker does itself


@dataclass
class TableRows:
    """Rows of one fact table as `FactTable.rows` builds them, with each one's epoch hour (what the
    rollups fold by; cheaper to keep from the record than to read back from a PostgreSQL datetime)."""

    ft: FactTable
    rows: list[Any]
    hours: list[int]

    @classmethod
    def of_events(cls, ft: FactTable, events: list[Event], dialect: str,
                  sealer: FactSealer | None = None) -> TableRows:
        return cls(ft, ft.rows(events, dialect, sealer), [int(e.ts.timestamp() // 3600) for e in events])

    def only(self, keys: set[str]) -> TableRows:
        """The first row of each key in `keys`, in order: the new rows when an insert reported
        which were new (a row given twice is then stored once, so it must count once)."""
        kept: dict[str, tuple[Any, int]] = {}
        for r, h in zip(self.rows, self.hours):
            if r[0] in keys:
                kept.setdefault(r[0], (r, h))
        return TableRows(self.ft, [r for r, _ in kept.values()], [h for _, h in kept.values()])


class RowMaker:
    """Rows for one dialect's driver from the records of one source, table by table."""

    def __init__(self, tables: FactTables, dialect: str, source: str, sealer: FactSealer | None = None):
        self.tables, self.dialect, self.source, self.sealer = tables, dialect, source, sealer
        self._plans: dict[type[Event], _Plan] = {}

    def rows(self, records: Iterable[Record]) -> list[TableRows]:
        """The rows of every table the records touch, in record order."""
        by_class: dict[type[Event], list[Record]] = {}
        for record in records:  # sorted into tables first, so each table's rows come from one comprehension
            bucket = by_class.get(record[3])
            if bucket is None:
                bucket = by_class[record[3]] = []
            bucket.append(record)
        out = []
        for cls, recs in by_class.items():
            plan = self._plans.get(cls) or self._plan(cls)
            out.append(self._finish(plan, self._table_rows(plan, recs)))
        return out

    def _table_rows(self, plan: _Plan, records: list[Record]) -> TableRows:
        source, version, given, n_given, get, defaults = (self.source, plan.version, plan.given, plan.n_given,
                                                          plan.get, plan.defaults)
        millis = [r[0] for r in records]
        # SQLite keeps integer microseconds (utc_micros); an integer ms time has them exactly
        stamps = ([t * 1000 for t in millis] if self.dialect == "sqlite"
                  else [dt.datetime.fromtimestamp(t / 1000, UTC) for t in millis])
        if n_given < 0 and any(type(r[4]) is tuple for r in records):
            raise TypeError(f"{plan.ft.struct.__name__}: its table's columns are not its own fields in order")
        rows = [(key, source, seq, ts, version, *fields) if type(fields) is tuple  # emit_rows: in column order
                else (key, source, seq, ts, version, *given(fields)) if len(fields) == n_given and "v" not in fields
                else (key, source, seq, ts, *get({**defaults, **fields}))  # defaults to merge in
                for (_t, key, seq, _c, fields), ts in zip(records, stamps)]
        return TableRows(plan.ft, rows, [t // 3_600_000 for t in millis])

    def _finish(self, plan: _Plan, made: TableRows) -> TableRows:
        ft = plan.ft
        if not plan.converters and not ft.protected:
            return made
        pad = [None] * len(ft.protected)
        done = []
        for r in made.rows:
            row = list(r)
            for i, fn in plan.converters:
                row[i] = fn(row[i])
            done.append(row + pad)
        if ft.protected and self.sealer is not None:
            self.sealer.seal_rows(done, ft.protected)
        return TableRows(ft, done, made.hours)

    def _plan(self, cls: type[Event]) -> _Plan:
        ft = self.tables[cls.schema_name()]
        names = ft.columns[len(BASE_COLUMNS):len(ft.columns) - len(ft.protected)]
        defaults = {}
        for f in msgspec.structs.fields(cls):
            if f.default is not msgspec.NODEFAULT:
                defaults[f.name] = f.default
            elif f.default_factory is not msgspec.NODEFAULT:
                defaults[f.name] = f.default_factory()  # only ever read: converted or copied into rows
        v_first = names[0] == "v"
        converters = tuple((i, fn) for i, fn in ft.converters(self.dialect) if i != _TS)
        plan = self._plans[cls] = _Plan(ft, defaults, _getter(names), defaults["v"], _getter(names[1:]),
                                        len(names) - 1 if v_first and names[1:] == own_fields(cls) else -1,
                                        converters)
        return plan


def _getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """itemgetter that gives a tuple for any number of names."""
    if len(names) == 1:
        return lambda d, n=names[0]: (d[n],)
    return itemgetter(*names) if names else lambda d: ()
