"""Memory over time: RSS of the worker (consumer + pusher) and web processes at a steady event rate.

The same processes as bench_push.py (a worker running streams.worker.run_worker with the real
Pusher on the Redis message queue; a web process serving /live with register_live_socket),
`--clients` Socket.IO clients subscribed to `overview`, and a producer XADDing `--rate` events/s
for `--minutes`. Every `--interval` seconds it samples (psutil) the RSS of the worker and the
web process, plus the consumer lag, Redis memory and stream length for context.

It prints the series, the least-squares slope of each process's RSS (MB/min, over the whole run
and after minute 1, when imports, pools and caches have settled) and the growth between minute
1 and the end. Verdict "flat": growth <= 10 % (the soak criterion in SECURITY.md) and a slope
after minute 1 below --flat-slope MB/min.

    python bench/bench_memory.py [--minutes 10] [--rate 5000] [--clients 20] [--interval 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.clients import ClientProcs  # noqa: E402
from bench.measure import cpu_seconds, machine, rss_mb, slope_per_minute, table, write_json  # noqa: E402
from bench.push_stack import start_push_stack  # noqa: E402
from bench.services import child, redis_server, stop_process  # noqa: E402
from bench.stores import GROUP, PG_URL, create_groups, prepare_warehouse, scratch_db, warehouse_rows  # noqa: E402
from bench.workload import load_workload  # noqa: E402
from streams.redis_conn import connect  # noqa: E402


def lag(r: Any, streams: list[str]) -> tuple[int, int]:
    """(entries not yet delivered to the group, entries delivered but not acknowledged)."""
    undelivered = pending = 0
    for s in streams:
        for g in r.xinfo_groups(s):
            if g["name"] in (GROUP, GROUP.encode()):
                undelivered += int(g.get("lag") or 0)
                pending += int(g["pending"])
    return undelivered, pending


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=5000.0, help="events/s XADDed (default 5,000)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--clients", type=int, default=20, help="Socket.IO clients subscribed to overview")
    parser.add_argument("--flat-slope", type=float, default=0.5, help="MB/min after minute 1 still called flat")
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--schemas", default="auto", choices=["auto", "registry", "test"])
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--flush-redis", action="store_true")
    parser.add_argument("--out", default="bench_memory")
    args = parser.parse_args()

    workload = load_workload(args.schemas)
    print(f"schemas: {workload.kind} ({workload.note})", flush=True)
    seconds = args.minutes * 60
    samples: list[dict[str, Any]] = []
    with redis_server(args.redis_url, flush=args.flush_redis) as server, \
            scratch_db(args.engine, args.pg_url) as db_url, \
            tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        redis_info = server.info()
        prepare_warehouse(db_url, workload)
        r = connect(server.url)
        create_groups(r, workload.streams)
        # no stage timers in the worker: they keep per-step figures and would grow its memory themselves
        stack = start_push_stack(server.url, db_url, workload.kind, Path(tmp), stats=False)
        clients = ClientProcs(stack.url, args.clients, max(1, math.ceil(args.clients / 100)), Path(tmp),
                              cookie=stack.cookie) \
            if args.clients else None
        producer = None
        try:
            if clients:
                clients.wait_ready()
            producer = child(["bench.common", "produce", "--redis", server.url, "--kind", workload.kind,
                              "--rate", str(args.rate), "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True)
            t0 = time.time()
            print(f"{'t s':>6} {'worker MB':>10} {'web MB':>8} {'lag':>8} {'pending':>8} {'redis MB':>9} "
                  f"{'stream len':>11}", flush=True)
            k = 0
            while True:
                target = t0 + k * args.interval
                time.sleep(max(0.0, target - time.time()))
                if stack.worker.poll() is not None or stack.web.poll() is not None:
                    raise RuntimeError("the worker or the web process died; see the log above")
                undelivered, pending = lag(r, workload.streams)
                s = {"t": round(time.time() - t0, 1), "worker_mb": round(rss_mb(stack.worker.pid), 1),
                     "web_mb": round(rss_mb(stack.web.pid), 1), "lag": undelivered, "pending": pending,
                     "redis_mb": round(int(r.info("memory")["used_memory"]) / 2**20, 1),
                     "stream_len": sum(r.xlen(st) for st in workload.streams)}
                samples.append(s)
                print(f"{s['t']:>6.0f} {s['worker_mb']:>10.1f} {s['web_mb']:>8.1f} {s['lag']:>8,} {s['pending']:>8,} "
                      f"{s['redis_mb']:>9.1f} {s['stream_len']:>11,}", flush=True)
                k += 1
                if k * args.interval > seconds:
                    break
            out, _ = producer.communicate(timeout=120)
            produced = json.loads(out.strip().splitlines()[-1])
            cpu = {"worker_cpu_pct": round(100 * cpu_seconds(stack.worker.pid) / (time.time() - t0), 1),
                   "web_cpu_pct": round(100 * cpu_seconds(stack.web.pid) / (time.time() - t0), 1)}
        finally:
            if producer is not None:
                stop_process(producer)
            if clients:
                for p in clients.procs:
                    stop_process(p)
            stack.stop()
        rows = warehouse_rows(db_url, workload)
    summary = {name: trend(samples, f"{name}_mb", args.flat_slope) for name in ("worker", "web")}
    print()
    print(table([{"process": k, **v} for k, v in summary.items()],
                [("process", "process"), ("start_mb", "RSS at start"), ("minute1_mb", "at minute 1"),
                 ("end_mb", "at end"), ("growth_mb", "growth min 1 -> end MB"), ("growth_pct", "%"),
                 ("slope_mb_per_min", "slope MB/min"), ("slope_after_min1", "slope after min 1"),
                 ("verdict", "verdict")],
                title=f"Memory: {args.rate:,.0f} events/s for {args.minutes:g} min, {args.clients} clients, "
                      f"{args.engine} (schemas: {workload.kind})"))
    print(f"produced {produced['sent']:,} events ({produced['rate']:,.0f}/s); warehouse rows {rows:,}; "
          f"CPU worker {cpu['worker_cpu_pct']:.0f} %, web {cpu['web_cpu_pct']:.0f} % (incl. start-up)")
    path = write_json(args.out, {
        "bench": "memory", "machine": machine(), "schemas": {"kind": workload.kind, "note": workload.note},
        "redis": redis_info, "args": vars(args), "samples": samples, "summary": summary, "produced": produced,
        "warehouse_rows": rows, "cpu": cpu,
        "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    })
    print(f"\nwrote {path}")


def trend(samples: list[dict[str, Any]], key: str, flat_slope: float) -> dict[str, Any]:
    points = [(s["t"], s[key]) for s in samples]
    settled = [p for p in points if p[0] >= 60] or points
    m1 = settled[0][1]
    end = points[-1][1]
    growth = end - m1
    after = slope_per_minute(settled)
    return {
        "start_mb": points[0][1], "minute1_mb": m1, "end_mb": end, "growth_mb": round(growth, 1),
        "growth_pct": round(100 * growth / m1, 1) if m1 else None,
        "slope_mb_per_min": round(slope_per_minute(points), 3), "slope_after_min1": round(after, 3),
        "verdict": "flat" if (growth <= 0.10 * m1 and after <= flat_slope) else "growing",
    }


if __name__ == "__main__":
    main()
