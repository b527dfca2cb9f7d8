"""Simulated history written straight into the warehouse, so a first start has a year to show.

It runs each system's simulator day by day under the sources `backfill.NAME`, whose sequence
numbers never mix with a live source's, and writes through the sink's own fast paths (same
ON CONFLICT rule, same rollup increments) but with one transaction per day and, on SQLite,
synchronous=OFF (history is rebuildable; a crash loses at most the day being written).
Because it uses the same keys rule and adds only new rows to the rollups, it is safe next
to live data and safe to run twice: the same seed gives the same keys, which are skipped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine, literal, select
from tqdm import tqdm

from datasources.base import Event, Simulator, SystemSpec
from domain.calendar import HolidayCalendar
from domain.compound import Compound
from warehouse.bulk import insert_new, prepare, unique_by_key
from warehouse.db import make_engine
from warehouse.facts import FactTables
from warehouse.ops import source_seq
from warehouse.protect import FactSealer
from warehouse.rollups import Increments


@dataclass
class BackfillStats:
    rows: int = 0  # events generated
    new_rows: int = 0  # rows inserted (fewer on a re-run)
    days: int = 0
    generate_s: float = 0.0  # in the simulators, summed over workers (overlaps writing)
    write_s: float = 0.0  # writing, summed over workers, plus the deferred index builds
    wall_s: float = 0.0
    by_schema: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s else 0.0

    def summary(self) -> str:
        def rate(s: float) -> str:
            return f"{self.rows / s:,.0f} rows/s" if s else "-"

        return (f"backfill: {self.rows:,} rows ({self.new_rows:,} new) over {self.days} days in {self.wall_s:.1f} s"
                f" = {rate(self.wall_s)}; generation {self.generate_s:.1f} s ({rate(self.generate_s)}),"
                f" writing {self.write_s:.1f} s ({rate(self.write_s)}), overlapped")


def is_empty(engine: Engine) -> bool:
    """True before any fact was ever written (every write records its source's sequence)."""
    with engine.connect() as conn:
        empty = conn.execute(select(source_seq.c.source).limit(1)).first() is None
        conn.rollback()
    return empty


def day_windows(days: int, end: dt.datetime, tz: dt.tzinfo) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Local-day windows in UTC from midnight `days` days before `end`'s local day up to `end`."""
    local_end = end.astimezone(tz)
    first = local_end.date() - dt.timedelta(days=days)
    for i in range(days + 1):
        day = first + dt.timedelta(days=i)
        w0 = dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC)
        w1 = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
        w1 = min(w1, end.astimezone(dt.UTC))
        if w0 < w1:
            yield w0, w1


def backfill(engine: Engine, systems: Mapping[str, SystemSpec] | Iterable[SystemSpec], compound: Compound,
             calendar: HolidayCalendar, *, days: int, end: dt.datetime, seed: int, tz: dt.tzinfo,
             progress: bool = True, tables: FactTables | None = None, workers: int = 1,
             observe: Callable[[list[Event]], object] | None = None,
             sealer: FactSealer | None = None) -> BackfillStats:
    """Write `days` days of simulated history ending at `end`; use an engine of role "backfill".

    `tables` defaults to fact tables derived from the systems' own schemas (they must exist).
    `workers` > 1 splits the systems over that many processes: the simulators (pure Python,
    about 110k events/s per core here) are the bottleneck, and systems write disjoint fact
    tables, rollup rows and sources, so their transactions never touch the same rows.
    `observe` sees each day's events after they are written (one process only), so the app
    can seed live state from the same history. `sealer` protects personal fields as the sink does
    (the app always passes one; each worker process gets the same backend).
    """
    if observe is not None and workers > 1:
        raise ValueError("observe needs workers=1: the events of other processes are not seen here")
    specs = list(systems.values()) if isinstance(systems, Mapping) else list(systems)
    tables = tables or FactTables(cls for spec in specs for cls in spec.events)
    windows = list(day_windows(days, end, tz))
    groups = [specs[i::workers] for i in range(min(max(workers, 1), len(specs)))]
    bar = tqdm(total=len(windows) * len(groups), desc="backfill", unit="day", disable=not progress)
    t_start = time.perf_counter()
    with _indexes_built_at_the_end(engine, tables):
        if len(groups) == 1:
            stats = _backfill_systems(engine, specs, tables, compound, calendar, windows, seed, tz, bar.update,
                                      observe, sealer)
        else:
            url = engine.url.render_as_string(hide_password=False)
            stats = _backfill_in_processes(url, groups, compound, calendar, windows, seed, tz, bar, sealer)
        t0 = time.perf_counter()
    stats.write_s += time.perf_counter() - t0  # building the deferred indexes
    stats.wall_s = time.perf_counter() - t_start
    bar.close()
    if progress:
        print(stats.summary())
    return stats


Window = tuple[dt.datetime, dt.datetime]


def _backfill_systems(engine: Engine, specs: list[SystemSpec], tables: FactTables, compound: Compound,
                      calendar: HolidayCalendar, windows: list[Window], seed: int, tz: dt.tzinfo,
                      on_day: Callable[[], object],
                      observe: Callable[[list[Event]], object] | None = None,
                      sealer: FactSealer | None = None) -> BackfillStats:
    """Day by day in one process; the next day is generated in a thread while this one is written
    (the database, or SQLite's C code which releases the GIL, works while Python generates)."""
    sims = [spec.make_simulator(compound, calendar, seed=seed, tz=tz, source=f"backfill.{spec.name}", seq_start=0)
            for spec in specs]
    stats = BackfillStats()
    days_ahead = _generate(sims, windows)
    with ThreadPoolExecutor(1, "backfill-gen") as pool:
        future = pool.submit(next, days_ahead, None)
        while (day := future.result()) is not None:
            events, generate_s = day
            future = pool.submit(next, days_ahead, None)
            t0 = time.perf_counter()
            stats.new_rows += _write_day(engine, tables, unique_by_key(events), tz, stats.by_schema, sealer)
            stats.write_s += time.perf_counter() - t0
            stats.generate_s += generate_s
            stats.rows += len(events)
            stats.days += 1
            if observe is not None:
                observe(events)
            on_day()
    return stats


def _generate(sims: list[Simulator], windows: list[Window]) -> Iterator[tuple[list[Event], float]]:
    for w0, w1 in windows:
        t0 = time.perf_counter()
        events: list[Event] = []
        for sim in sims:
            events.extend(sim.events_between(w0, w1))
        yield events, time.perf_counter() - t0


def _backfill_in_processes(url: str, groups: list[list[SystemSpec]], compound: Compound,
                           calendar: HolidayCalendar, windows: list[Window], seed: int, tz: dt.tzinfo,
                           bar: tqdm, sealer: FactSealer | None = None) -> BackfillStats:
    ctx = multiprocessing.get_context("spawn")  # no forked copies of engines, pools or threads
    with ctx.Manager() as manager, ProcessPoolExecutor(len(groups), mp_context=ctx) as pool:
        ticks = manager.Queue()
        # connectors may hold closures that cannot be pickled; the workers only simulate
        futures = [pool.submit(_worker, url, [replace(s, connectors={}) for s in group], compound, calendar,
                               windows, seed, tz, ticks, sealer) for group in groups]
        pending = set(futures)
        while pending:
            _done, pending = wait(pending, timeout=0.5)
            while not ticks.empty():
                bar.update(ticks.get())
        parts = [f.result() for f in futures]
    total = BackfillStats(days=len(windows))
    for part in parts:
        total.rows += part.rows
        total.new_rows += part.new_rows
        total.generate_s += part.generate_s
        total.write_s += part.write_s
        total.by_schema.update(part.by_schema)
    return total


def _worker(url: str, specs: list[SystemSpec], compound: Compound, calendar: HolidayCalendar,
            windows: list[Window], seed: int, tz: dt.tzinfo, ticks: Any,
            sealer: FactSealer | None = None) -> BackfillStats:
    engine = make_engine(url, role="backfill")
    try:
        tables = FactTables(cls for spec in specs for cls in spec.events)
        return _backfill_systems(engine, specs, tables, compound, calendar, windows, seed, tz,
                                 lambda: ticks.put(1), sealer=sealer)
    finally:
        engine.dispose()


@contextlib.contextmanager
def _indexes_built_at_the_end(engine: Engine, tables: FactTables) -> Iterator[None]:
    """Drop the secondary indexes (ts; source, seq) of empty fact tables and build them once at the end.

    Measured here: 25 % faster on SQLite, 15 % on PostgreSQL. The primary key on `key` stays, so
    uniqueness holds throughout; tables that already hold rows (live data) keep their indexes.
    The end step creates any missing index, so it also heals a run that was killed midway.
    """
    with engine.begin() as conn:
        for ft in tables:
            if conn.execute(select(literal(1)).select_from(ft.table).limit(1)).first() is None:
                for index in ft.table.indexes:
                    index.drop(conn, checkfirst=True)
    try:
        yield
    finally:
        with engine.begin() as conn:
            for ft in tables:
                for index in ft.table.indexes:
                    index.create(conn, checkfirst=True)


def _write_day(engine: Engine, tables: FactTables, events: list[Event], tz: dt.tzinfo,
               by_schema: dict[str, int], sealer: FactSealer | None = None) -> int:
    """One transaction: the day's new facts plus their rollup and sequence increments."""
    increments = Increments()
    new = 0
    groups = tables.group(events)
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
        prepare(conn, [ft for ft, _ in groups])
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")  # rebuildable history only
            for ft, evs in groups:
                fresh = insert_new(conn, ft, evs, sealer)
                increments.add(ft, fresh)
                new += len(fresh)
                by_schema[ft.schema] = by_schema.get(ft.schema, 0) + len(fresh)
            increments.apply(conn, tz)
    return new
