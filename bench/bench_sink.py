"""Sink throughput: batches of events through Sink.write_batch (facts, outbox, position, rollups,
one transaction each) into a fresh SQLite file and PostgreSQL schema. Events are made up front,
so the figure is the sink alone.

    python -m bench.bench_sink [--rows 200000] [--batch 1000] [--systems sample|registry] [--repeat 3]
                               [--url sqlite --url postgresql+psycopg://...]

`sample`: three synthetic schemas mixed in every batch (one of 16 columns); `registry`: the real
simulators' events of one day, one stream per system cut into batches (the last one of each
stream is partial), as the consumers read them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo


from bench.stores import scratch_db
from datasources.base import Event
from tests.warehouse.samples import STRUCTS, T0, make_events
from warehouse.db import make_engine
from warehouse.facts import FactTables
from warehouse.schema import create_schema
from warehouse.sink import Sink

SH = ZoneInfo("Asia/Shanghai")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def scratch_url(url: str) -> Iterator[str]:
    """`sqlite` -> a file in a temp folder; a PostgreSQL URL -> that database with a fresh schema."""
    with scratch_db("sqlite") if url == "sqlite" else scratch_db("postgresql", url) as scratch:
        yield scratch


def workload(kind: str, rows: int, batch: int) -> tuple[list[list[Event]], FactTables]:
    """Batches as consumers would read them, and the fact tables they need."""
    if kind == "sample":
        events = make_events(rows, start=T0, step_s=0.5)
        return [events[i:i + batch] for i in range(0, len(events), batch)], FactTables(STRUCTS)
    from datasources.registry import SYSTEMS
    from domain.calendar import default_calendar
    from domain.compound import build_compound
    from warehouse.schema import registry_fact_tables

    compound, calendar = build_compound(7), default_calendar()
    day = dt.datetime(2025, 6, 3, tzinfo=SH)  # a Tuesday
    streams = []
    for spec in SYSTEMS.values():  # one stream per system, as SystemSpec.stream
        sim = spec.make_simulator(compound, calendar, seed=7, tz=SH, source=f"sim.{spec.name}")
        streams.append(list(sim.events_between(day, day + dt.timedelta(days=1))))
    share = rows // len(streams)
    batches = [s[i:i + batch] for s in streams for i in range(0, min(len(s), share), batch)]
    return batches, registry_fact_tables()


def run(url: str, batches: list[list[Event]], tables: FactTables) -> float:
    with scratch_url(url) as scratch:
        engine = make_engine(scratch, role="consumer")
        create_schema(engine, tables)
        sink = Sink(engine, tables)
        t0 = time.perf_counter()
        for i, b in enumerate(batches):
            sink.write_batch(b, stream="ev:bench", group="g", consumer="c1", last_id=f"{i}-0",
                             deltas=lambda new: {"n": len(new)})
        elapsed = time.perf_counter() - t0
        again = sink.write_batch(batches[0], stream="ev:bench", group="g", consumer="c1", last_id="x-0",
                                 deltas=lambda new: {"n": len(new)})
        assert again.duplicates == len(batches[0])
        engine.dispose()
    return sum(map(len, batches)) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--systems", choices=("sample", "registry"), default="sample")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine (shared machines are noisy)")
    parser.add_argument("--url", action="append", help="'sqlite' or a PostgreSQL URL (repeatable)")
    args = parser.parse_args()
    batches, tables = workload(args.systems, args.rows, args.batch)
    rows = sum(map(len, batches))
    for url in args.url or ["sqlite", PG_URL]:
        name = "sqlite" if url == "sqlite" else "postgresql"
        rates = sorted(run(url, batches, tables) for _ in range(args.repeat))
        print(f"sink {name:10s} {args.systems} rows={rows:,} batches={len(batches)}: "
              f"median {rates[len(rates) // 2]:,.0f} rows/s, best {rates[-1]:,.0f} ({args.repeat} runs)")


if __name__ == "__main__":
    main()
