"""Simulated history written straight into the warehouse, so a first start has a year to show.

It runs each system's simulator day by day under the sources `backfill.NAME`, whose sequence
numbers never mix with a live source's, and writes through the sink's own fast paths (same
ON CONFLICT rule, same rollup increments) but with one transaction per day (per system and day
in worker processes) and, on SQLite, synchronous=OFF (history is rebuildable; a crash loses at
most the day being written). Because it uses the same keys rule and adds only new rows to the
rollups, it is safe next to live data and safe to run twice: the same seed gives the same keys,
which are skipped.

A year is ~40 M rows, so the path is lean: rows come straight from the simulators' records, with
no Event in between (warehouse/simrows.py, the same rows as the Events would give); `workers`
processes each simulate and write one system at a time; the secondary indexes of empty tables
are dropped and built once a system's days are in; the cyclic garbage collector is paused. What
that gives and where the time goes: bench/README.md (bench/bench_backfill.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Engine, literal, make_url, select
from tqdm import tqdm

from datasources.base import Event, Simulator, SystemSpec
from datasources.simkit import HourlySimulator, keep_rosters
from domain.calendar import HolidayCalendar
from domain.compound import Compound
from warehouse.bulk import insert_tables, prepare
from warehouse.db import make_engine
from warehouse.facts import FactTable, FactTables
from warehouse.ops import source_seq
from warehouse.protect import FactSealer
from warehouse.rollups import Increments
from warehouse.simrows import RowMaker, TableRows


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
    `workers` > 1 runs the systems in that many processes, each simulating and writing one system
    at a time over all days (a free process takes the next system, so the load evens out).
    Systems write disjoint fact tables, rollup rows and sources, so their transactions never touch
    the same rows. Rows come straight from the simulators' records (warehouse/simrows.py); `observe`
    sees each day's events, built from the same records, after they are written (one process only),
    so the app can seed live state from the same history. `sealer` protects personal fields as the
    sink does (the app always passes one; each worker process gets the same backend).
    """
    if observe is not None and workers > 1:
        raise ValueError("observe needs workers=1: the events of other processes are not seen here")
    specs = list(systems.values()) if isinstance(systems, Mapping) else list(systems)
    tables = tables or FactTables(cls for spec in specs for cls in spec.events)
    windows = list(day_windows(days, end, tz))
    parallel = workers > 1
    bar = tqdm(total=len(windows) * (len(specs) if parallel else 1), desc="backfill",
               unit="system-day" if parallel else "day", disable=not progress)
    t_start = time.perf_counter()
    with _indexes_built_at_the_end(engine, tables), _gc_paused():
        if not parallel:
            stats = _backfill_systems(engine, specs, tables, compound, calendar, windows, seed, tz, bar.update,
                                      ahead=True, observe=observe, sealer=sealer)
        else:
            url = engine.url.render_as_string(hide_password=False)
            stats = _backfill_in_processes(url, specs, workers, compound, calendar, windows, seed, tz, bar,
                                           sealer)
        t0 = time.perf_counter()
    stats.write_s += time.perf_counter() - t0  # building the deferred indexes
    stats.wall_s = time.perf_counter() - t_start
    bar.close()
    if progress:
        print(stats.summary())
    return stats


Window = tuple[dt.datetime, dt.datetime]


@dataclass
class _Day:
    batch: list[TableRows]  # in table-name order (the writers' lock order, as FactTables.group)
    increments: Increments  # of the whole batch, folded as if every row were new (the usual case)
    rows: int
    events: list[Event]  # only when observed
    generate_s: float


def _backfill_systems(engine: Engine, specs: list[SystemSpec], tables: FactTables, compound: Compound,
                      calendar: HolidayCalendar, windows: list[Window], seed: int, tz: dt.tzinfo,
                      on_day: Callable[[], object], *, ahead: bool, turn: Any = None,
                      observe: Callable[[list[Event]], object] | None = None,
                      sealer: FactSealer | None = None) -> BackfillStats:
    """Day by day. With `ahead` (one process), the next day is generated in a thread while this one
    is written (PostgreSQL, or SQLite's C code which releases the GIL, works while Python generates).
    Worker processes go without threads (the GIL hand-offs slowed their writes by half); on SQLite,
    where they share one write lock, `turn` is a lock each takes around its writes, and while another
    has it a worker generates up to AHEAD more days instead of sleeping in SQLite's busy handler."""
    sims = [(f"backfill.{spec.name}", spec.make_simulator(compound, calendar, seed=seed, tz=tz,
                                                          source=f"backfill.{spec.name}", seq_start=0))
            for spec in specs]
    stats = BackfillStats()

    def write(day: _Day) -> None:
        t0 = time.perf_counter()
        stats.new_rows += _write_day(engine, day.batch, day.increments, tz, stats.by_schema)
        stats.write_s += time.perf_counter() - t0
        stats.generate_s += day.generate_s
        stats.rows += day.rows
        stats.days += 1
        if observe is not None:
            observe(day.events)
        on_day()

    days = _generate(sims, windows, tables, engine.dialect.name, sealer, observe is not None)
    pending: deque[_Day] = deque()
    with contextlib.ExitStack() as stack:
        if ahead:
            days = _one_ahead(days, stack.enter_context(ThreadPoolExecutor(1, "backfill-gen")))
        for day in itertools.chain(days, [None]):  # None: all generated, wait for the turn
            if day is not None:
                pending.append(day)
            while pending and (turn is None or turn.acquire(day is None or len(pending) > AHEAD)):
                try:
                    write(pending.popleft())
                finally:
                    if turn is not None:
                        turn.release()
    return stats


AHEAD = 3  # days a SQLite worker generates while another holds the write lock (a day: ~20 MB at most)


def _one_ahead(days: Iterator[_Day], pool: ThreadPoolExecutor) -> Iterator[_Day]:
    future = pool.submit(next, days, None)
    while (day := future.result()) is not None:
        future = pool.submit(next, days, None)
        yield day


def _generate(sims: list[tuple[str, Simulator]], windows: list[Window], tables: FactTables, dialect: str,
              sealer: FactSealer | None, keep_events: bool) -> Iterator[_Day]:
    """Each day's rows, straight from the simulators' records where they offer them (and the Events
    too when they are kept for `observe`)."""
    makers = {source: RowMaker(tables, dialect, source, sealer) for source, _ in sims}
    for w0, w1 in windows:
        t0 = time.perf_counter()
        batch: list[TableRows] = []
        events: list[Event] = []
        for source, sim in sims:
            if isinstance(sim, HourlySimulator):
                records = sim.records_between(w0, w1)
                if keep_events:
                    records = list(records)
                    events += map(sim.event, records)
                batch += makers[source].rows(records)
            else:
                day = list(sim.events_between(w0, w1))
                batch += [TableRows.of_events(ft, evs, dialect, sealer) for ft, evs in tables.group(day)]
                if keep_events:
                    events += day
        batch.sort(key=lambda b: b.ft.table.name)
        yield _Day(batch, _increments(batch), sum(len(b.rows) for b in batch), events, time.perf_counter() - t0)


def _backfill_in_processes(url: str, specs: list[SystemSpec], workers: int, compound: Compound,
                           calendar: HolidayCalendar, windows: list[Window], seed: int, tz: dt.tzinfo,
                           bar: tqdm, sealer: FactSealer | None = None) -> BackfillStats:
    ctx = multiprocessing.get_context("spawn")  # no forked copies of engines, pools or threads
    # a process runs one system over all days, then another over the same days: keep every day's roster
    with ctx.Manager() as manager, ProcessPoolExecutor(min(workers, len(specs)), mp_context=ctx,
                                                       initializer=keep_rosters, initargs=(len(windows),)) as pool:
        ticks = manager.Queue()
        turn = manager.Lock() if make_url(url).get_backend_name() == "sqlite" else None  # its one writer
        # connectors may hold closures that cannot be pickled; the workers only simulate
        futures = [pool.submit(_worker, url, replace(spec, connectors={}), compound, calendar, windows, seed, tz,
                               ticks, turn, sealer) for spec in specs]
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


def _worker(url: str, spec: SystemSpec, compound: Compound, calendar: HolidayCalendar, windows: list[Window],
            seed: int, tz: dt.tzinfo, ticks: Any, turn: Any, sealer: FactSealer | None = None) -> BackfillStats:
    engine = make_engine(url, role="backfill")
    tables = FactTables(spec.events)
    try:
        with _gc_paused():
            stats = _backfill_systems(engine, [spec], tables, compound, calendar, windows, seed, tz,
                                      lambda: ticks.put(1), ahead=False, turn=turn, sealer=sealer)
        t0 = time.perf_counter()
        _build_indexes(engine, tables, turn)
        stats.write_s += time.perf_counter() - t0
        return stats
    finally:
        engine.dispose()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a day of rows is alive: they are plain tuples (no cycles
    to find), but hundreds of thousands of them surviving each young-generation pass made Python
    rescan them again and again; measured here, generation took 40 % longer with the collector on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def _indexes_built_at_the_end(engine: Engine, tables: FactTables) -> Iterator[None]:
    """Drop the secondary indexes (ts, and the index columns of protected fields) of empty fact tables
    and build them once at the end.

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
        _build_indexes(engine, tables)


def _build_indexes(engine: Engine, tables: Iterable[FactTable], turn: Any = None) -> None:
    """Create the missing secondary indexes of these tables (those present are left alone).

    A worker process builds its system's indexes as soon as its days are written, while the other
    goes on (a year's indexes take ~30 s of CPU to build here, which would otherwise all come at
    the end). One transaction per index (and SQLite worker `turn`): each holds SQLite's one write
    lock for a few seconds at most, so other writers (the other worker, a live consumer) get their
    turn in between.
    """
    for ft in tables:
        for index in ft.table.indexes:
            with turn if turn is not None else contextlib.nullcontext(), engine.begin() as conn, \
                    _sort_memory(conn):
                index.create(conn, checkfirst=True)


@contextlib.contextmanager
def _sort_memory(conn: Connection) -> Iterator[None]:
    """Up to 1 GB to sort in while an index is built, so a year of the largest table (12 M rows)
    sorts in memory: measured here, 40 % faster on PostgreSQL and 25 % on SQLite than the default
    64 MB / 2 MB, which sort on disk. SQLite's page cache is shrunk back after (it is the connection's)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
        yield
        return
    driver = conn.connection.driver_connection
    before = int(driver.execute("PRAGMA cache_size").fetchone()[0])
    driver.execute("PRAGMA cache_size = -1048576")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size = {before}")


def _write_day(engine: Engine, batch: list[TableRows], all_new: Increments, tz: dt.tzinfo,
               by_schema: dict[str, int]) -> int:
    """One transaction: the day's new facts plus their rollup and sequence increments.

    `all_new` was folded as the day was generated, as if every row were new (the usual case), so
    neither SQLite's write lock nor a worker's turn is held for it; a re-run folds the new ones again."""
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
        prepare(conn, [b.ft for b in batch])
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")  # rebuildable history only
            found = insert_tables(conn, [(b.ft, b.rows) for b in batch])
            fresh = [b if keys is None else b.only(keys) for b, keys in zip(batch, found)]
            increments = all_new if all(f is b for f, b in zip(fresh, batch)) else _increments(fresh)
            increments.apply(conn, tz)
    for f in fresh:
        by_schema[f.ft.schema] = by_schema.get(f.ft.schema, 0) + len(f.rows)
    return sum(len(f.rows) for f in fresh)


def _increments(batch: list[TableRows]) -> Increments:
    increments = Increments()
    for b in batch:
        increments.add_rows(b.ft, b.rows, b.hours)
    return increments
