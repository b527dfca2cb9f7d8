"""The entry point of the benches' child processes: `python -m bench.common worker|web|clients|poll|produce ...`.

The benches start every child this way (bench.services.child), so each runs in a process of its own
as in production. The roles themselves live in bench.push_stack (worker, web, produce) and
bench.clients (clients), bench.interval_poll (poll); this module only parses their command lines.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading

from bench.clients import run_clients
from bench.interval_poll import run_pollers
from bench.push_stack import CHANNEL, produce_at_rate, run_web_process, run_worker_process
from bench.workload import load_workload
from settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="bench child processes (started by the benches)")
    sub = parser.add_subparsers(dest="role", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--redis", required=True)
    w.add_argument("--db", required=True)
    w.add_argument("--kind", default="auto")
    w.add_argument("--name", default="c1")
    w.add_argument("--channel", default=CHANNEL)
    w.add_argument("--batch", type=int, default=Settings.batch_size)
    w.add_argument("--stats", default=None, help="write stage timings here on exit")
    w.add_argument("--screens", action="store_true", help="push the screens' topics too")
    web = sub.add_parser("web")
    web.add_argument("--redis", required=True)
    web.add_argument("--kind", default="auto")
    web.add_argument("--port", type=int, required=True)
    web.add_argument("--channel", default=CHANNEL)
    web.add_argument("--screens", action="store_true", help="allow subscribing to the screens' topics")
    c = sub.add_parser("clients")
    c.add_argument("--url", required=True)
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--topic", default="overview")
    c.add_argument("--kind", default="auto", choices=["auto", "async", "threading"])
    c.add_argument("--cookie", default="", help="Cookie header of a signed-in session (PushStack.cookie)")
    poll = sub.add_parser("poll")
    poll.add_argument("--url", required=True)
    poll.add_argument("--n", type=int, required=True)
    poll.add_argument("--out", required=True)
    poll.add_argument("--cookie", default="")
    p = sub.add_parser("produce")
    p.add_argument("--redis", required=True)
    p.add_argument("--kind", default="auto")
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--ticks", action="store_true", help="report each pipeline's time and events per system")
    args = parser.parse_args(argv)
    if args.role == "worker":
        run_worker_process(args.redis, args.db, args.kind, args.name, args.channel, args.batch, args.stats,
                           args.screens)
    elif args.role == "web":
        run_web_process(args.redis, args.kind, args.port, args.channel, args.screens)
    elif args.role == "clients":
        run_clients(args.url, args.n, args.out, topic=args.topic, kind=args.kind, cookie=args.cookie)
    elif args.role == "poll":
        run_pollers(args.url, args.n, args.out, cookie=args.cookie)
    elif args.role == "produce":
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print(json.dumps(produce_at_rate(args.redis, load_workload(args.kind), args.rate, args.seconds, stop=stop,
                                         record_ticks=args.ticks)), flush=True)


if __name__ == "__main__":
    main()
