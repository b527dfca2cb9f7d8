"""Screen clients per web process: N Socket.IO clients subscribed to `screen:overview` as a screen page
is, on the push path's processes (bench_push's run: worker + web in `async_mode="threading"` under
Werkzeug, as `app.py web`, both registering the screens' topics), while a producer XADDs `--rate`
real-registry events/s (default 100: enough for the overview topic to get an update every 100 ms
flush, the most a screen is sent).

Per client count: web process CPU % and RSS and threads, worker CPU %, latency XADD -> client
(newest, bench_push's definition) p50/p95/p99, bytes per `update` frame. First `--clients` (50, 200),
then a ramp (`--ramp`) that stops at the first count where p95 >= 1 s or a client did not connect:
the most clients one web process holds is the last count before it.

`--baseline`: the same screen built the conventional way (bench/baseline_interval_app.py: dcc.Interval
every second, one callback returning every panel whole) under the same producer rate, driven by
pollers (bench/interval_poll.py) at `--baseline-clients`, and the ratios against the push runs with
the same client count: server CPU per client (the serving process: the web process vs the baseline
app), bytes per update (and gzipped) and staleness (receipt - newest event shown).

    .venv/bin/python bench/bench_screen_clients.py [--clients 50,200] [--ramp 100,200,...,2000]
        [--baseline] [--baseline-clients 10,50,200] [--rate 100] [--seconds 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_push import fresh_push_stack, load_window, run_once  # noqa: E402
from bench.clients import ClientProcs  # noqa: E402
from bench.measure import machine, percentiles, rss_mb, table, write_json  # noqa: E402
from bench.services import child, free_port, redis_server, stop_process, wait_port  # noqa: E402
from bench.stores import PG_URL  # noqa: E402
from bench.workload import load_workload  # noqa: E402

TOPIC = "screen:overview"
TARGET_P95_MS = 1000.0
TARGET_CLIENTS = 500
TARGET_CPU_RATIO = 15.0
TARGET_BYTES_RATIO = 60.0


def push_run(server: Any, workload: Any, n: int, args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    """bench_push's run for `n` clients of the overview screen; a count whose clients cannot all connect
    is a result too (the error is kept)."""
    try:
        res = run_once(server, workload, n, argparse.Namespace(**{**vars(args), "seconds": seconds}),
                       topic=TOPIC, screens=True)
    except RuntimeError as exc:
        return {"clients": n, "error": str(exc), "held": False}
    web_cpu = res["cpu_pct"]["web"]
    res["web_cpu_per_client"] = web_cpu / n
    res["held"] = res["connected_at_end"] == n and res["latency_newest_ms"]["p95"] < TARGET_P95_MS
    return res


def baseline_run(server: Any, workload: Any, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """The dcc.Interval app with `n` pollers, the worker keeping live state, the producer at the same rate."""
    import psutil

    with fresh_push_stack(server, workload, args, stats=False, screens=True) as (stack, _db, tmp):
        port = free_port()
        with open(tmp / "baseline.log", "wb") as log:
            app = child(["bench.baseline_interval_app", "--redis", server.url, "--port", str(port)],
                        stdout=log, stderr=subprocess.STDOUT)
        polls = None
        try:
            wait_port(port, app)
            polls = ClientProcs(f"http://127.0.0.1:{port}", n, max(1, math.ceil(n / 200)), tmp, role="poll")
            polls.wait_ready()
            watched = {"worker": stack.worker.pid, "baseline": app.pid,
                       **{f"pollers{i}": pid for i, pid in enumerate(polls.pids)}}
            w0, w1, cpu, produced = load_window(server, workload, args, watched)
            rss, threads = rss_mb(app.pid), psutil.Process(app.pid).num_threads()
            results = polls.stop()
            log_tail = (tmp / "baseline.log").read_text(errors="replace")[-3000:]
        finally:
            for p in polls.procs if polls else []:
                stop_process(p)
            stop_process(app)
    rows = [s for r in results for s in r["samples"] if w0 <= s[0] <= w1]
    stale = [recv * 1000 - newest for recv, newest, _rt, _b in rows if newest > 0]
    body = [b for *_, b in rows]
    gz = [g for r in results for g in r["gzip_bytes"]]
    return {
        "clients": n, "rate_sent": produced["rate"], "responses": len(rows),
        "updates_per_client_per_s": len(rows) / n / max(w1 - w0, 1e-9),
        "staleness_ms": {k: round(v, 1) for k, v in percentiles(stale).items()},
        "round_trip_ms": {k: round(1000 * v, 1) for k, v in percentiles([rt for _, _, rt, _ in rows]).items()},
        "body_bytes_mean": round(sum(body) / len(body), 1) if body else None,
        "gzip_bytes_mean": round(sum(gz) / len(gz), 1) if gz else None,
        "cpu_pct": cpu, "cpu_per_client": cpu["baseline"] / n, "rss_mb": round(rss, 1), "threads": threads,
        "errors": sum(len(r["errors"]) for r in results), "error_sample": [e for r in results for e in r["errors"]][:5],
        "app_log_tail": log_tail,
    }


def age_shown(staleness_ms: dict[str, float], updates_per_s: float) -> float | None:
    """Typical age of the newest event on screen at any moment: staleness at receipt (p50) plus half the
    gap between updates, during which the shown data keeps ageing."""
    return staleness_ms["p50"] + 500.0 / updates_per_s if updates_per_s else None


def ratios(push: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Baseline / push: how many times more CPU per client, bytes per update and staleness the baseline costs."""

    def div(a: float | None, b: float | None) -> float | None:
        return round(a / b, 1) if a is not None and b else None

    per_s = push["frame_bytes_mean"] * push["updates_per_client_per_s"] if push.get("frame_bytes_mean") else None
    base_ups = base["updates_per_client_per_s"]
    out = {
        "clients": base["clients"], "baseline_updates_per_s": round(base_ups, 2),
        "cpu_per_client": div(base["cpu_per_client"], push["web_cpu_per_client"]),
        # a saturated baseline delivers fewer than the 1 update/s it is built for: its cost per client at 1/s
        "cpu_per_client_at_1_per_s": div(base["cpu_per_client"] / base_ups if base_ups else None,
                                         push["web_cpu_per_client"]),
        "cpu_per_update": div(base["cpu_per_client"] / base_ups if base_ups else None,
                              push["web_cpu_per_client"] / push["updates_per_client_per_s"]),
        "bytes_per_update": div(base["body_bytes_mean"], push["frame_bytes_mean"]),
        "bytes_per_update_gzip": div(base["gzip_bytes_mean"], push["frame_bytes_mean"]),
        "bytes_per_s_per_client": div(base["body_bytes_mean"] * base["updates_per_client_per_s"]
                                      if base["body_bytes_mean"] else None, per_s),
        "staleness_p50": div(base["staleness_ms"]["p50"], push["latency_newest_ms"]["p50"]),
        "staleness_p95": div(base["staleness_ms"]["p95"], push["latency_newest_ms"]["p95"]),
        "age_shown": div(age_shown(base["staleness_ms"], base["updates_per_client_per_s"]),
                         age_shown(push["latency_newest_ms"], push["updates_per_client_per_s"])),
    }
    out["met_cpu"] = (out["cpu_per_client"] or 0) >= TARGET_CPU_RATIO
    out["met_bytes"] = (out["bytes_per_update"] or 0) >= TARGET_BYTES_RATIO
    return out


def _ppp(p: dict[str, float]) -> str:
    return f"{p['p50']:.0f}/{p['p95']:.0f}/{p['p99']:.0f}"


def push_table(runs: list[dict[str, Any]], title: str) -> str:
    rows = [{"clients": r["clients"], "error": r["error"][:60]} if "error" in r else {
        "clients": r["clients"], "conn": f"{r['connected_at_end']}/{r['clients']}",
        "ups": r["updates_per_client_per_s"],
        "lat": _ppp(r["latency_newest_ms"]), "web": r["cpu_pct"]["web"], "per": 100 * r["web_cpu_per_client"],
        "rss": r["rss_mb"]["web"], "thr": r["threads"]["web"], "worker": r["cpu_pct"]["worker"],
        "clients_cpu": sum(v for k, v in r["cpu_pct"].items() if k.startswith("clients")),
        "bytes": f"{r['frame_bytes_mean'] or 0:.0f} / {r['frame_bytes']['p50']:.0f}",
        "held": "yes" if r["held"] else "no"} for r in runs]
    return table(rows, [("clients", "clients"), ("conn", "connected"), ("ups", "updates/s/client"),
                        ("lat", "latency p50/p95/p99 ms"), ("web", "web CPU %"), ("per", "web CPU % per 100 clients"),
                        ("rss", "web RSS MB"), ("thr", "web threads"), ("worker", "worker CPU %"),
                        ("clients_cpu", "client procs CPU %"), ("bytes", "frame B mean/median"),
                        ("held", "p95 < 1 s"), ("error", "error")], title=title)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="events/s XADDed (default 100)")
    parser.add_argument("--clients", default="50,200", help="client counts measured first")
    parser.add_argument("--ramp", default="100,200,300,500,700,1000,1500,2000",
                        help="client counts of the ramp ('' = none)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per --clients count")
    parser.add_argument("--ramp-seconds", type=float, default=20.0, help="measured seconds per ramp step")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--baseline", action="store_true", help="also run the dcc.Interval baseline and the ratios")
    parser.add_argument("--baseline-clients", default="10,50,200")
    parser.add_argument("--client-procs", type=int, default=0)
    parser.add_argument("--client-kind", default="auto", choices=["auto", "async", "threading"])
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--flush-redis", action="store_true")
    parser.add_argument("--out", default="screen_clients")
    args = parser.parse_args()

    def counts(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x.strip()]

    workload = load_workload("registry")  # the screens' metrics come from the real registry
    data: dict[str, Any] = {"bench": "screen_clients", "machine": machine(), "args": vars(args), "topic": TOPIC,
                            "runs": [], "ramp": [], "baseline": [], "ratios": []}

    def save() -> Path:
        data["finished"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        return write_json(args.out, data)

    with redis_server(args.redis_url, flush=args.flush_redis) as server:
        data["redis"] = server.info()
        for n in counts(args.clients):
            data["runs"].append(push_run(server, workload, n, args, args.seconds))
            print(push_table(data["runs"][-1:], "").splitlines()[-1], flush=True)
            save()
        for n in counts(args.ramp):
            res = push_run(server, workload, n, args, args.ramp_seconds)
            data["ramp"].append(res)
            print(f"  ramp {n}: " + push_table([res], "").splitlines()[-1], flush=True)
            save()
            if not res["held"]:
                break
        if args.baseline:
            for n in counts(args.baseline_clients):
                base = baseline_run(server, workload, n, args)
                data["baseline"].append(base)
                push = next((r for r in data["runs"] + data["ramp"] if r["clients"] == n and "error" not in r), None)
                if push is None:
                    push = push_run(server, workload, n, args, args.seconds)
                    data["runs"].append(push)
                data["ratios"].append(ratios(push, base))
                save()
    held = [r["clients"] for r in data["ramp"] if r["held"]]
    data["most_clients_held"] = max(held, default=None)
    path = save()
    print()
    print(push_table(data["runs"], f"Push: {TOPIC}, {args.rate:,.0f} events/s, threading web process, "
                                   f"{args.seconds:g} s measured"))
    if data["ramp"]:
        print()
        print(push_table(data["ramp"], f"Ramp ({args.ramp_seconds:g} s each, stops at the first p95 >= 1 s "
                                       "or lost client)"))
        print(f"most clients one web process held with p95 < 1 s: {data['most_clients_held']} "
              f"(target {TARGET_CLIENTS}; the ramp tried {', '.join(str(r['clients']) for r in data['ramp'])})")
    if data["baseline"]:
        print()
        print(table([{**b, "stale": _ppp(b["staleness_ms"]), "rt": _ppp(b["round_trip_ms"]),
                      "base_cpu": b["cpu_pct"]["baseline"], "worker": b["cpu_pct"]["worker"]}
                     for b in data["baseline"]],
                    [("clients", "clients"), ("updates_per_client_per_s", "updates/s/client"),
                     ("stale", "staleness p50/p95/p99 ms"),
                     ("rt", "round trip p50/p95/p99 ms"), ("base_cpu", "app CPU %"), ("cpu_per_client", "CPU %/client"),
                     ("rss_mb", "app RSS MB"), ("threads", "threads"), ("worker", "worker CPU %"),
                     ("body_bytes_mean", "body B"), ("gzip_bytes_mean", "gzip B"), ("errors", "errors")],
                    title="Baseline: dcc.Interval 1 s, whole figures, same producer rate"))
        print()
        print(table([{**x, "cpu_t": "yes" if x["met_cpu"] else "no", "bytes_t": "yes" if x["met_bytes"] else "no"}
                     for x in data["ratios"]],
                    [("clients", "clients"), ("baseline_updates_per_s", "baseline updates/s"),
                     ("cpu_per_client", "CPU/client x"), ("cpu_t", f">= {TARGET_CPU_RATIO:g}"),
                     ("cpu_per_client_at_1_per_s", "CPU/client at 1/s x"), ("cpu_per_update", "CPU/update x"),
                     ("bytes_per_update", "bytes/update x"), ("bytes_t", f">= {TARGET_BYTES_RATIO:g}"),
                     ("bytes_per_update_gzip", "gzip bytes/update x"), ("bytes_per_s_per_client", "bytes/s x"),
                     ("staleness_p50", "staleness p50 x"), ("staleness_p95", "staleness p95 x"),
                     ("age_shown", "age shown x")],
                    title="Baseline / push (how many times the baseline costs)"))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
