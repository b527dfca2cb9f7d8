"""Push latency: XADD -> consumer -> live state -> coalescing Pusher -> Redis message queue ->
web process (/live namespace) -> python-socketio clients, at a steady event rate.

Set-up per client count (fresh Redis, warehouse, processes): a private Redis; a worker process
running the real worker loop (StreamConsumer + Sink + LiveState + Pusher emitting through
flask-socketio's Redis message queue under streams.worker.run_worker, as `app.py worker`); a
web process serving /live (Flask + SocketIO in threading mode on the same message queue and
channel + callbacks.live_socket.register_live_socket, as `app.py web` without the Dash pages);
N socketio.Client clients (websocket transport, spread over a few processes) that subscribe
to `overview`; a producer process XADDing `--rate` events/s.

How latency is measured: the producer stamps every event's `ts` with its XADD wall time (set
just before the pipeline is sent; one pipeline per 10 ms tick). Live state keeps each
source's newest event time (`live:src`), and every `update` carries it for the sources that
changed (`sources[s].last`), read when the message is built. So for each update a client
receives, `newest = max(sources[*].last)` is the XADD time of the newest event the message
reflects, and latency = receipt wall time - newest (same host, same clock). The target's figure is
per event (`per_event_latencies`): every event's first receipt at every client, told from the per-system
event totals the updates carry. Two more figures bracket it:
- oldest (bound): receipt - the previous update's newest; events XADDed after the previous
  update's newest are first shown by this one, so this bounds the age of the oldest change in
  it, coalescer wait (the 100 ms flush interval) included;
- split: newest -> flush time `t` (consumer + waiting for the flush) and `t` -> receipt
  (message queue + web process + socket).
Samples from the first `--warmup` seconds are dropped.

    python bench/bench_push.py [--rate 2000] [--clients 1,50,200] [--seconds 30] [--engine sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.clients import ClientProcs, client_kind  # noqa: E402
from bench.measure import cpu_seconds, machine, percentiles, rss_mb, table, write_json  # noqa: E402
from bench.push_stack import PushStack, start_push_stack  # noqa: E402
from bench.services import child, redis_server, stop_process  # noqa: E402
from bench.stores import PG_URL, create_groups, prepare_warehouse, scratch_db, warehouse_rows  # noqa: E402
from bench.workload import load_workload  # noqa: E402
from streams.redis_conn import connect  # noqa: E402

TARGET_P95_MS = 150.0


@contextlib.contextmanager
def fresh_push_stack(server: Any, workload: Any, args: argparse.Namespace, *, screens: bool = False,
                     stats: bool = True) -> Iterator[tuple[PushStack, str, Path]]:
    """An emptied Redis, a scratch warehouse (`args.engine`) and the worker and web processes on them, with
    a temp folder for the children's files; yields (stack, database URL, folder), stops the stack after."""
    server.reset()
    with scratch_db(args.engine, args.pg_url) as db_url, tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        prepare_warehouse(db_url, workload)
        create_groups(connect(server.url), workload.streams)
        stack = start_push_stack(server.url, db_url, workload.kind, Path(tmp), stats=stats, screens=screens)
        try:
            yield stack, db_url, Path(tmp)
        finally:
            stack.stop()


def run_once(server: Any, workload: Any, n_clients: int, args: argparse.Namespace, *, topic: str = "overview",
             screens: bool = False) -> dict[str, Any]:
    """One client count on fresh processes; `topic` is what the clients subscribe to (`screens`: the web and
    worker register the screens' topics, for `screen:<id>`)."""
    import psutil

    with fresh_push_stack(server, workload, args, screens=screens) as (stack, db_url, tmp):
        kind = client_kind(args.client_kind)
        procs = args.client_procs or max(1, math.ceil(n_clients / (200 if kind == "async" else 100)))
        clients = ClientProcs(stack.url, n_clients, procs, tmp, kind, cookie=stack.cookie, topic=topic)
        try:
            t_conn = time.time()
            clients.wait_ready()
            connect_s = time.time() - t_conn
            watched = {"worker": stack.worker.pid, "web": stack.web.pid,
                       **{f"clients{i}": pid for i, pid in enumerate(clients.pids)}}
            w0, m1, cpu, produced = load_window(server, workload, args, watched)
            threads = {"web": psutil.Process(stack.web.pid).num_threads(),
                       "worker": psutil.Process(stack.worker.pid).num_threads()}
            rss = {"web": round(rss_mb(stack.web.pid), 1), "worker": round(rss_mb(stack.worker.pid), 1)}
            time.sleep(1.0)  # let the last flushes arrive
            results = clients.stop()
        finally:
            for p in clients.procs:
                stop_process(p)
            worker_stats = stack.stop()
        rows = warehouse_rows(db_url, workload)
    out = summarise(n_clients, results, w0, m1, produced, rows, cpu, threads, connect_s, procs)
    out["worker"] = worker_stats
    out["client_kind"] = kind
    out["rss_mb"] = rss
    out["topic"] = topic
    return out


def load_window(server: Any, workload: Any, args: argparse.Namespace,
                watched: dict[str, int]) -> tuple[float, float, dict[str, float], dict[str, Any]]:
    """Feed `args.rate` events/s for `args.warmup` + `args.seconds` from a producer process; returns the
    measured window (start after the warm-up, end), the CPU % of each watched process (and the private
    Redis) over it, and what the producer sent."""
    if server.proc is not None:
        watched = {**watched, "redis": server.proc.pid}
    total = args.warmup + args.seconds
    producer = child(["bench.common", "produce", "--redis", server.url, "--kind", workload.kind,
                      "--rate", str(args.rate), "--seconds", str(total), "--ticks"], stdout=subprocess.PIPE,
                     text=True)
    try:
        time.sleep(args.warmup)
        cpu0 = {k: cpu_seconds(p) for k, p in watched.items()}
        m0 = time.time()
        out, _ = producer.communicate(timeout=total + 60)
        m1 = time.time()
    finally:
        stop_process(producer)
    cpu = {k: round(100 * (cpu_seconds(p) - cpu0[k]) / (m1 - m0), 1) for k, p in watched.items()}
    return m0, m1, cpu, json.loads(out.strip().splitlines()[-1])


def summarise(n_clients: int, results: list[dict[str, Any]], w0: float, w1: float, produced: dict[str, Any],
              rows: int, cpu: dict[str, float], threads: dict[str, int], connect_s: float,
              procs: int) -> dict[str, Any]:
    newest, oldest, pipe, deliver = [], [], [], []
    messages = 0
    for res in results:
        for recv, newest_ms, t_ms in res["samples"]:
            if not (w0 <= recv <= w1) or newest_ms <= 0:
                continue
            messages += 1
            newest.append(recv * 1000 - newest_ms)
            pipe.append(t_ms - newest_ms)
            deliver.append(recv * 1000 - t_ms)
        _oldest_bounds(res["samples"], w0, w1, oldest)
    per_event = per_event_latencies(produced.get("ticks") or [], [c for r in results for c in r["event_counts"]],
                                    w0 * 1000, w1 * 1000)
    ok_clients = sum(r["connected_at_end"] for r in results)
    frames = [b for r in results for b in r.get("frame_bytes", ())]
    out = {
        "clients": n_clients, "client_processes": procs, "connected_at_end": ok_clients,
        "connect_all_s": round(connect_s, 1), "rate_sent": produced["rate"], "events": produced["sent"],
        "warehouse_rows": rows, "updates_received": messages,
        "updates_per_client_per_s": messages / max(n_clients, 1) / max(w1 - w0, 1e-9),
        "latency_per_event_ms": {k: round(float(v), 1) for k, v in percentiles(per_event, (50, 95, 99, 100)).items()},
        "per_event_samples": int(len(per_event)),
        "latency_newest_ms": {k: round(v, 1) for k, v in percentiles(newest).items()},
        "latency_oldest_bound_ms": {k: round(v, 1) for k, v in percentiles(oldest).items()},
        "newest_to_flush_ms": {k: round(v, 1) for k, v in percentiles(pipe).items()},
        "flush_to_receipt_ms": {k: round(v, 1) for k, v in percentiles(deliver).items()},
        "max_newest_ms": round(max(newest), 1) if newest else None,
        "cpu_pct": cpu, "threads": threads,
        "frame_bytes": {k: float(v) for k, v in percentiles(frames, (50, 95, 100)).items()},
        "frame_bytes_mean": round(sum(frames) / len(frames), 1) if frames else None,
    }
    out["met"] = bool(len(per_event)) and out["latency_per_event_ms"]["p95"] <= TARGET_P95_MS
    return out


def per_event_latencies(ticks: list[list[Any]], clients: list[list[list[Any]]], w0_ms: float,
                        w1_ms: float) -> Any:
    """Each event's own latency at each client (ms, a numpy array): the receipt of the first update whose day
    total for the event's system reaches the event's ordinal, minus the event's XADD time.

    Exact where `newest` and the oldest bound only bracket it: a system's events are one stream, consumed and
    counted in order, so the k-th event XADDed for a system is reflected first by the first update whose
    `<system>.events` total is k or more. `ticks` are the producer's pipelines (time, events per system) from
    a fresh Redis, so ordinals count from 1; `clients` are each client's (receipt s, {system: total}) in
    arrival order. Events XADDed outside [w0_ms, w1_ms] are left out (the window starts after the warm-up,
    when every client has subscribed); so are those no update reflected before the clients stopped."""
    import numpy as np

    xadd: dict[str, list[float]] = {}
    for t, per_system in ticks:
        for system, n in per_system.items():
            xadd.setdefault(system, []).extend([t] * n)
    parts = []
    for updates in clients:
        for system, times in xadd.items():
            seen = [(sums[system], recv) for recv, sums in updates if system in sums]
            if not seen:
                continue
            totals = np.maximum.accumulate(np.array([tot for tot, _ in seen]))
            receipts = np.array([recv for _, recv in seen]) * 1000
            sent = np.array(times)
            first = np.searchsorted(totals, np.arange(1, len(sent) + 1), side="left")
            keep = (first < len(totals)) & (sent >= w0_ms) & (sent <= w1_ms)
            parts.append(receipts[first[keep]] - sent[keep])
    return np.concatenate(parts) if parts else np.array([])


def _oldest_bounds(samples: list[list[float]], w0: float, w1: float, out: list[float]) -> None:
    """Every client of a process gets the same sequence of messages (same flush times `t`); for each
    message, the previous message's newest is the newest of the message with the preceding `t`."""
    newest_by_t: dict[int, int] = {}
    for _recv, newest_ms, t_ms in samples:
        if newest_ms > 0:
            newest_by_t[int(t_ms)] = max(newest_by_t.get(int(t_ms), 0), int(newest_ms))
    ts = sorted(newest_by_t)
    prev_of = {t: newest_by_t[p] for p, t in zip(ts, ts[1:])}
    for recv, newest_ms, t_ms in samples:
        prev = prev_of.get(int(t_ms))
        if prev and newest_ms > 0 and w0 <= recv <= w1:
            out.append(recv * 1000 - prev)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000.0, help="events/s XADDed (default 2,000)")
    parser.add_argument("--clients", default="1,50,200", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per client count")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of samples dropped first")
    parser.add_argument("--client-procs", type=int, default=0,
                        help="client processes (default: 1 per 200 asyncio clients or 100 threading clients)")
    parser.add_argument("--client-kind", default="auto", choices=["auto", "async", "threading"],
                        help="socketio.AsyncClient (needs aiohttp) or socketio.Client; auto: async if aiohttp imports")
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--schemas", default="auto", choices=["auto", "registry", "test"])
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--flush-redis", action="store_true")
    parser.add_argument("--out", default="bench_push")
    args = parser.parse_args()

    workload = load_workload(args.schemas)
    print(f"schemas: {workload.kind} ({workload.note})", flush=True)
    runs = []
    with redis_server(args.redis_url, flush=args.flush_redis) as server:
        redis_info = server.info()
        for n in (int(x) for x in args.clients.split(",")):
            res = run_once(server, workload, n, args)
            runs.append(res)
            print(f"  clients={n:<4d} per event p50/p95/p99 {_ppp(res['latency_per_event_ms'])} ms "
                  f"({res['per_event_samples']:,} event receipts); newest {_ppp(res['latency_newest_ms'])} ms; "
                  f"oldest bound {_ppp(res['latency_oldest_bound_ms'])} ms; "
                  f"{res['updates_per_client_per_s']:.1f} updates/s per client", flush=True)
    rows = [{
        "clients": x["clients"], "rate": x["rate_sent"], "ups": x["updates_per_client_per_s"],
        "event": _ppp(x["latency_per_event_ms"]),
        "newest": _ppp(x["latency_newest_ms"]), "oldest": _ppp(x["latency_oldest_bound_ms"]),
        "pipe": _ppp(x["newest_to_flush_ms"]), "deliver": _ppp(x["flush_to_receipt_ms"]),
        "cpu": " ".join(f"{k[:7]} {v:.0f}" for k, v in x["cpu_pct"].items()),
        "met": "yes" if x["met"] else "no",
        "conn": f"{x['connected_at_end']}/{x['clients']}",
    } for x in runs]
    print()
    print(table(rows, [("clients", "clients"), ("conn", "connected"), ("rate", "events/s"), ("ups", "updates/s/client"),
                       ("event", "per event p50/p95/p99 ms"), ("newest", "newest p50/p95/p99"),
                       ("oldest", "oldest bound p50/p95/p99"), ("pipe", "newest->flush"),
                       ("deliver", "flush->receipt"), ("met", "p95<=150 (per event)"),
                       ("cpu", "CPU % by process")],
                title=f"Push: XADD -> Socket.IO client, {args.rate:,.0f} events/s, topic overview, {args.engine} "
                      f"(schemas: {workload.kind}; clients: {runs[0]['client_kind'] if runs else ''}; "
                      f"kpi flush 100 ms)"))
    print("per event: each event's receipt at each client - its XADD time (coalescer wait included); newest: "
          "receipt - XADD time of the newest event in the update; oldest bound: receipt - the previous update's "
          "newest (an upper bound on the age of the oldest change in it).")
    for x in runs:
        w = x.get("worker") or {}
        if w:
            print(f"worker at {x['clients']} clients: CPU {100 * w['cpu_s'] / max(w['seconds'], 1e-9):.0f} %, "
                  f"step ms p50/p95/p99/max {w['step_ms']['p50']}/{w['step_ms']['p95']}/{w['step_ms']['p99']}/"
                  f"{w['step_ms']['p100']}, entries per step p50 {w['entries_per_step']['p50']}, "
                  f"flush ms p50/p95 {w['flush_ms']['p50']}/{w['flush_ms']['p95']}")
    path = write_json(args.out, {
        "bench": "push", "machine": machine(), "schemas": {"kind": workload.kind, "note": workload.note},
        "redis": redis_info, "args": vars(args), "target_p95_ms": TARGET_P95_MS, "runs": runs,
        "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    })
    print(f"\nwrote {path}")


def _ppp(p: dict[str, float]) -> str:
    return f"{p['p50']:.0f}/{p['p95']:.0f}/{p['p99']:.0f}"


if __name__ == "__main__":
    main()
