"""Backfill throughput: simulated history written straight into a fresh SQLite file and PostgreSQL
schema, reporting rows/s overall and the split between generation (simulators) and writing.

    python -m bench.bench_backfill [--days 7] [--url sqlite --url postgresql+psycopg://...]
                                   [--systems registry|sample] [--rate 100] [--workers N]

`registry` runs the real systems (falls back to `sample` while the registry does not import);
`sample` runs three synthetic systems at `--rate` times one event per 10 minutes each. `--workers`
defaults to one process per core, as `app.py backfill` runs. A year (`--days 365`, ~40 M rows)
takes a few minutes per engine and ~10 GB of disk while it runs. Each line also gives the load
average around the run (the machine is shared; wall-clock rates fall with load) and the CPU time
of this process and its workers per row (PostgreSQL's own server processes not included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
from dataclasses import replace
from functools import partial
from zoneinfo import ZoneInfo

from bench.bench_sink import PG_URL, scratch_url
from bench.measure import gauge_line
from domain.calendar import default_calendar
from domain.compound import build_compound
from tests.warehouse.samples import sample_systems
from warehouse.backfill import backfill
from warehouse.db import make_engine
from warehouse.facts import FactTables
from warehouse.schema import create_schema

SH = ZoneInfo("Asia/Shanghai")


def systems_and_tables(kind: str, rate: float) -> tuple[object, FactTables, float]:
    if kind == "registry":
        try:
            from datasources.registry import SYSTEMS
            from warehouse.schema import registry_fact_tables

            return SYSTEMS, registry_fact_tables(), 1.0
        except ImportError as exc:
            print(f"registry does not import ({exc}); using the sample systems")
    specs = sample_systems()
    return specs, FactTables(cls for s in specs for cls in s.events), rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--url", action="append", help="'sqlite' or a PostgreSQL URL (repeatable)")
    parser.add_argument("--systems", choices=("registry", "sample"), default="registry")
    parser.add_argument("--rate", type=float, default=100.0, help="sample systems only: load multiplier")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes, each simulating and writing one system at a time")
    args = parser.parse_args()
    systems, tables, rate = systems_and_tables(args.systems, args.rate)
    if rate != 1.0:
        systems = [replace(s, make_simulator=partial(s.make_simulator, rate=rate)) for s in systems]  # type: ignore
    end = dt.datetime.combine(dt.date(2025, 6, 1), dt.time(), SH)
    compound, calendar = build_compound(args.seed), default_calendar()
    print(gauge_line())
    for url in args.url or ["sqlite", PG_URL]:
        name = "sqlite" if url == "sqlite" else "postgresql"
        with scratch_url(url) as scratch:
            engine = make_engine(scratch, role="backfill")
            create_schema(engine, tables)
            load_before, cpu_before = os.getloadavg()[0], _cpu_s()
            stats = backfill(engine, systems, compound, calendar, days=args.days, end=end, seed=args.seed, tz=SH,
                             progress=False, tables=tables, workers=args.workers)
            load_after, cpu = os.getloadavg()[0], _cpu_s() - cpu_before
            engine.dispose()
        print(f"{name:10s} {stats.summary()}; workers {args.workers}, load {load_before:.1f} -> {load_after:.1f},"
              f" CPU {cpu / stats.rows * 1e6:.2f} µs/row")


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
