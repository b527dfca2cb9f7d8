"""Backfill throughput: simulated history written straight into a fresh SQLite file and PostgreSQL
schema, reporting rows/s overall and the split between generation (simulators) and writing.

    python -m bench.bench_backfill [--days 7] [--url sqlite --url postgresql+psycopg://...]
                                   [--systems registry|sample] [--rate 100] [--workers 1]

`registry` runs the real systems (falls back to `sample` while the registry does not import);
`sample` runs three synthetic systems at `--rate` times one event per 10 minutes each.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import replace
from functools import partial
from zoneinfo import ZoneInfo

from bench.bench_sink import PG_URL, scratch_url
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
    parser.add_argument("--workers", type=int, default=1, help="processes, systems split between them")
    args = parser.parse_args()
    systems, tables, rate = systems_and_tables(args.systems, args.rate)
    if rate != 1.0:
        systems = [replace(s, make_simulator=partial(s.make_simulator, rate=rate)) for s in systems]  # type: ignore
    end = dt.datetime.combine(dt.date(2025, 6, 1), dt.time(), SH)
    compound, calendar = build_compound(args.seed), default_calendar()
    for url in args.url or ["sqlite", PG_URL]:
        name = "sqlite" if url == "sqlite" else "postgresql"
        with scratch_url(url) as scratch:
            engine = make_engine(scratch, role="backfill")
            create_schema(engine, tables)
            stats = backfill(engine, systems, compound, calendar, days=args.days, end=end, seed=args.seed, tz=SH,
                             progress=False, tables=tables, workers=args.workers)
            engine.dispose()
        print(f"{name:10s} {stats.summary()}")


if __name__ == "__main__":
    main()
