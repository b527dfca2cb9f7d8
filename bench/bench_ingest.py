"""Ingest throughput, end to end: XADD -> consumer group -> committed warehouse rows + live state applied.

For each engine (SQLite consumer-role file: WAL + synchronous=FULL; PostgreSQL: a fresh schema)
and each number of consumer processes in one group (1 and 2):

- prefill: N events are XADDed with the Producer first, then the consumer processes are told
  to go and the clock runs until the last batch is committed to the warehouse, applied to
  live state and acknowledged (Lua apply + XACK). events/s = N / (last commit - go).
- concurrent: the consumers start first and N events are XADDed at full speed while they
  drain; events/s = N / (last commit - first XADD). On 2 cores the producer, Redis, the
  database and the consumers share the CPUs, so this is the figure under contention.

Each run checks the effect: N fact rows, live-state event counters summing to N, nothing
pending, the outbox empty. Every consumer process times its stages (XREADGROUP, decode, fold
deltas, sink insert, rollups, commit, Lua apply, outbox) with wrappers around per-batch calls;
`--profile` adds a cProfile of one process per run (slower; the figures are marked).

    python bench/bench_ingest.py [--events 300000] [--engines sqlite,postgresql] [--consumers 1,2]
                                 [--modes prefill,concurrent] [--batch 1000] [--profile]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import STAGE_ORDER, Stages, gauge_line, instrument_consumer, machine, table, write_json  # noqa: E402
from bench.services import child, redis_server, stop_process  # noqa: E402
from bench.stores import (  # noqa: E402
    GROUP,
    PG_URL,
    create_groups,
    live_event_total,
    prepare_warehouse,
    scratch_db,
    warehouse_rows,
)
from bench.workload import load_workload  # noqa: E402
from settings import Settings  # noqa: E402
from streams.redis_conn import connect  # noqa: E402

GO, DONE = "bench:go", "bench:done"
TARGETS = {"sqlite": 40_000, "postgresql": 30_000}


# --- the consumer process --------------------------------------------------------------------------------
def consume(args: argparse.Namespace) -> None:
    """One consumer process: build the worker's consumer, wait for go, drain, print figures as JSON."""
    import cProfile
    import pstats

    from bench.measure import cpu_seconds, rss_mb
    from bench.workload import TZ
    from streams.consumer import StreamConsumer
    from streams.live_state import LiveState
    from warehouse.db import make_engine
    from warehouse.sink import Sink

    workload = load_workload(args.kind)
    r = connect(args.redis)
    engine = make_engine(args.db, role="consumer")
    c = StreamConsumer(r, Sink(engine, workload.tables()), workload.codec(), LiveState(r, TZ), workload.deltas(),
                       streams=workload.streams, group=GROUP, name=args.name, batch=args.batch, block_ms=100)
    stages = instrument_consumer(c)
    c.setup()
    with engine.connect() as conn:  # open the pool's connection before the clock starts
        conn.rollback()
    print("ready", flush=True)
    r.blpop([GO], timeout=600)
    stages.reset()
    prof = cProfile.Profile() if args.profile else None
    cpu0, t_go = cpu_seconds(), time.time()
    first = last = None
    snap: dict[str, Any] = {}
    if prof:
        prof.enable()
    while True:
        n = c.step()
        if n:
            last = time.time()
            first = first or last
            snap = stages.snapshot()
        elif r.exists(DONE):
            break
    if prof:
        prof.disable()
    cpu = cpu_seconds() - cpu0
    st = c.stats
    out: dict[str, Any] = {
        "name": args.name, "entries": st.entries, "new": st.new, "duplicates": st.duplicates, "batches": st.batches,
        "dead": st.dead, "errors": st.infra_errors, "last_error": st.last_error, "t_go": t_go, "first": first,
        "last": last, "cpu_s": cpu, "rss_mb": rss_mb(__import__("os").getpid()), "stages": snap,
    }
    if prof:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        out["profile_tottime"] = buf.getvalue()
    print(json.dumps(out), flush=True)


# --- one run -----------------------------------------------------------------------------------------------
def run_once(server: Any, workload: Any, events: list, engine: str, consumers: int, mode: str,
             args: argparse.Namespace) -> dict[str, Any]:
    from streams.producer import Producer

    server.reset()
    n = len(events)
    chunk = 1000
    load_before = os.getloadavg()[0]
    with scratch_db(engine, args.pg_url) as db_url:
        wh = prepare_warehouse(db_url, workload)
        r = connect(server.url)
        create_groups(r, workload.streams)
        producer = Producer(r, workload.codec())
        xadd_rate = None
        if mode == "prefill":
            t0 = time.perf_counter()
            for i in range(0, n, chunk):
                producer.submit(events[i:i + chunk])
            xadd_rate = n / (time.perf_counter() - t0)
            r.set(DONE, 1)
        procs = [child(["bench.bench_ingest", "_consume", "--redis", server.url, "--db", db_url,
                        "--kind", workload.kind, "--name", f"c{i + 1}", "--batch", str(args.batch)]
                       + (["--profile"] if args.profile and i == 0 else []), stdout=subprocess.PIPE, text=True)
                 for i in range(consumers)]
        try:
            for p in procs:
                if p.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
                    raise RuntimeError(f"consumer process failed to start (exit {p.wait()})")
            go = time.time()
            r.rpush(GO, *["1"] * consumers)
            if mode == "concurrent":
                t0 = time.perf_counter()
                for i in range(0, n, chunk):
                    producer.submit(events[i:i + chunk])
                xadd_rate = n / (time.perf_counter() - t0)
                r.set(DONE, 1)
            results = []
            for p in procs:
                out, _ = p.communicate(timeout=args.timeout)
                results.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for p in procs:
                stop_process(p)
        end = max(x["last"] or go for x in results)
        rows = warehouse_rows(db_url, workload)
        live_total = live_event_total(r)
        pending = sum(r.xpending(s, GROUP)["pending"] for s in workload.streams)
        outbox = _outbox_rows(db_url)
        r.close()
    stages = Stages()
    for x in results:
        stages.add(x["stages"])
    entries = sum(x["entries"] for x in results)
    per_proc = [x["entries"] / ((x["last"] or go) - go) if x["last"] else 0.0 for x in results]
    ok = rows == n and round(live_total) == n and pending == 0 and outbox == 0
    return {
        "engine": engine, "consumers": consumers, "mode": mode, "events": n, "batch": args.batch,
        "events_per_s": n / (end - go), "per_process_events_per_s": per_proc, "xadd_events_per_s": xadd_rate,
        "seconds": end - go, "cpu_s_per_process": [x["cpu_s"] for x in results],
        "us_cpu_per_event": 1e6 * sum(x["cpu_s"] for x in results) / max(entries, 1),
        "rss_mb": [round(x["rss_mb"], 1) for x in results],
        "cpu_bound_events_per_s": entries / max(sum(x["cpu_s"] for x in results), 1e-9),
        "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "batches": sum(x["batches"] for x in results), "duplicates": sum(x["duplicates"] for x in results),
        "check": {"ok": ok, "warehouse_rows": rows, "live_event_total": live_total, "pending": pending,
                  "outbox": outbox, "errors": [x["last_error"] for x in results if x["errors"]]},
        "warehouse": wh, "stages": stages.report(entries), "profiled": bool(args.profile),
        "profile": next((x["profile_tottime"] for x in results if "profile_tottime" in x), None),
    }


def _outbox_rows(db_url: str) -> int:
    from sqlalchemy import func, select

    from warehouse.db import make_engine
    from warehouse.ops import outbox

    engine = make_engine(db_url, role="web")
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
        conn.rollback()
    engine.dispose()
    return int(n)


# --- main ----------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000, help="events per run (default 300,000)")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--consumers", default="1,2", help="consumer processes in one group, comma-separated")
    parser.add_argument("--modes", default="prefill,concurrent")
    parser.add_argument("--batch", type=int, default=Settings.batch_size,
                        help=f"XREADGROUP COUNT (default: the worker's batch_size, {Settings.batch_size})")
    parser.add_argument("--schemas", default="auto", choices=["auto", "registry", "test"])
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of a private one (REDIS_URL too)")
    parser.add_argument("--flush-redis", action="store_true", help="allow flushing a non-empty --redis-url")
    parser.add_argument("--profile", action="store_true", help="cProfile the first consumer process of each run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration; the table shows the median")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--out", default="bench_ingest", help="name of the JSON file under bench/out/")
    args = parser.parse_args()

    workload = load_workload(args.schemas)
    print(f"schemas: {workload.kind} ({workload.note})", flush=True)
    t0 = time.perf_counter()
    events = workload.events(args.events)
    print(f"generated {len(events):,} events in {time.perf_counter() - t0:.1f} s "
          f"({events[0].ts:%Y-%m-%d %H:%M} .. {events[-1].ts:%H:%M} UTC)", flush=True)
    runs = []
    with redis_server(args.redis_url, flush=args.flush_redis) as server:
        redis_info = server.info()
        for engine in args.engines.split(","):
            for consumers in (int(x) for x in args.consumers.split(",")):
                for mode in args.modes.split(","):
                    for rep in range(args.repeat):
                        res = run_once(server, workload, events, engine, consumers, mode, args)
                        res["repeat"] = rep + 1
                        runs.append(res)
                        print(f"  {engine:10s} consumers={consumers} {mode:10s} {res['events_per_s']:>9,.0f} events/s "
                              f"per process {[round(x) for x in res['per_process_events_per_s']]} "
                              f"CPU {res['us_cpu_per_event']:.1f} µs/event load {res['loadavg_1min']} "
                              f"check={'ok' if res['check']['ok'] else res['check']}", flush=True)
    report(runs, workload, redis_info, args)


def median_runs(runs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Per configuration (engine, consumers, mode): the run with the median events/s, and all its runs."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for x in runs:
        groups.setdefault((x["engine"], x["consumers"], x["mode"]), []).append(x)
    out = []
    for group in groups.values():
        ranked = sorted(group, key=lambda x: x["events_per_s"])
        out.append((ranked[(len(ranked) - 1) // 2], group))
    return out


def report(runs: list[dict[str, Any]], workload: Any, redis_info: dict, args: argparse.Namespace) -> None:
    rows = []
    for x, group in median_runs(runs):
        target = TARGETS.get(x["engine"])
        per = x["per_process_events_per_s"]
        rates = [g["events_per_s"] for g in group]
        rows.append({
            "engine": x["engine"], "procs": x["consumers"], "mode": x["mode"], "events": x["events"],
            "eps": x["events_per_s"], "range": f"{min(rates):,.0f}-{max(rates):,.0f}" if len(rates) > 1 else "",
            "per": " / ".join(f"{p:,.0f}" for p in per), "cpu": x["us_cpu_per_event"],
            "ceiling": x["cpu_bound_events_per_s"], "xadd": x["xadd_events_per_s"],
            "load": statistics.mean(x["loadavg_1min"]),
            "target": f"{target:,}/proc" if target else "",
            "met": ("yes" if min(per) >= target else "no") if (target and x["consumers"] == 1) else "",
            "check": "ok" if all(g["check"]["ok"] for g in group) else "FAILED",
        })
    print()
    print(table(rows, [("engine", "engine"), ("procs", "consumers"), ("mode", "mode"), ("events", "events"),
                       ("eps", "events/s end-to-end"), ("range", f"range of {args.repeat}"),
                       ("per", "per process"), ("cpu", "CPU µs/event"), ("ceiling", "CPU-bound events/s/proc"),
                       ("xadd", "XADD/s"), ("load", "load avg"), ("target", "target"), ("met", "met (1 proc)"),
                       ("check", "check")],
                title=f"Ingest: XADD -> warehouse commit + live state + XACK  (schemas: {workload.kind}; "
                      f"batch {args.batch}; Redis {redis_info.get('version')} AOF {redis_info.get('appendfsync')}; "
                      f"median of {args.repeat})"))
    print("CPU-bound events/s/proc = 1e6 / consumer CPU µs per event: the rate if a process never waited "
          "(on Redis, the database, fsync, or for a CPU).")
    host = machine()
    print(gauge_line(host["gauge_ns"]))
    for x, _group in median_runs(runs):
        if x["mode"] == "prefill":
            print()
            print(table(x["stages"], [("what", "stage"), ("us_per_event", "wall µs/event"),
                                      ("cpu_us_per_event", "CPU µs/event"), ("share_pct", "% of wall"),
                                      ("calls", "calls")],
                        title=f"Where the time goes: {x['engine']}, {x['consumers']} consumer process(es), prefill "
                              f"(summed over processes; exclusive time per stage)"))
    for x in runs:
        if x.get("profile"):
            print(f"\ncProfile, {x['engine']} {x['consumers']} proc {x['mode']} (first process, top 25 by tottime):")
            print("\n".join(x["profile"].splitlines()[:45]))
    path = write_json(args.out, {
        "bench": "ingest", "machine": host, "schemas": {"kind": workload.kind, "note": workload.note,
                                                             "streams": workload.streams},
        "redis": redis_info, "args": vars(args), "targets_per_process": TARGETS, "stage_names": dict(STAGE_ORDER),
        "runs": runs, "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    })
    print(f"\nwrote {path}")


def _child_main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("role")
    p.add_argument("--redis", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--kind", default="auto")
    p.add_argument("--name", default="c1")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--profile", action="store_true")
    consume(p.parse_args())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_consume":
        _child_main()
    else:
        main()
