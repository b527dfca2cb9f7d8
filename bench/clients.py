"""Socket.IO clients of the live socket, as browsers: python-socketio clients on the websocket
transport with a signed-in session's cookie, subscribed to a topic, noting when every `update` arrives.

They run in child processes (`python -m bench.common clients ...`) so that their CPU and GIL
hand-offs stay out of the bench's own process and can be measured apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.services import child, stop_process


def client_kind(requested: str = "auto") -> str:
    """`async` (socketio.AsyncClient; needs aiohttp for websockets) or `threading` (socketio.Client).

    The threading client runs ~4 OS threads per client; with 100 or more clients in a process on 2
    cores their GIL hand-offs add tens to hundreds of ms to what is measured, so `auto` prefers the
    asyncio client (one thread per process) when aiohttp is installed.
    """
    if requested != "auto":
        return requested
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return "threading"
    return "async"


FRAME_HEAD = len("42/live,")  # what Socket.IO puts before an event's JSON on the /live namespace
EVENTS = ".events"  # the per-system event counters (analytics.deltas)


def _on_update(samples: list[tuple[float, int, int]], sizes: list[int] | None = None,
               counts: list[tuple[float, dict[str, float]]] | None = None) -> Callable[[dict], None]:
    """With `sizes`, also the frame's length: the message re-encoded as Socket.IO sends it (compact JSON,
    ASCII escapes). Every client of a topic gets the same frames, so one client per process records them.
    `counts` (this client's own list): receipt time and the day's event totals per system the message
    carries (`<system>.events`), from which the push bench tells each event's own latency."""

    def on_update(msg: dict) -> None:
        recv = time.time()
        srcs = msg.get("sources") or {}
        newest = max((s.get("last", 0) for s in srcs.values()), default=0)
        samples.append((recv, newest, int(msg.get("t", 0))))
        if counts is not None:
            counts.append((recv, {m[:-len(EVENTS)]: v for m, v in (msg.get("sums") or {}).items()
                                  if m.endswith(EVENTS)}))
        if sizes is not None:
            sizes.append(FRAME_HEAD + len(json.dumps(["update", msg], separators=(",", ":"))))

    return on_update


def _finish_clients(out_path: str, samples: list, connected: int, n: int, errors: list[str],
                    sizes: list[int], counts: list[list]) -> None:
    result = {"clients": n, "samples": list(samples), "connect_errors": errors, "connected_at_end": connected,
              "frame_bytes": sizes, "event_counts": counts}
    Path(out_path).write_text(json.dumps(result))
    # a clean disconnect takes ~3 s per threading client; the server sees the sockets close when we exit
    sys.stdout.flush()
    os._exit(0)


def run_clients(url: str, n: int, out_path: str, *, topic: str = "overview", kind: str = "auto",
                cookie: str = "") -> None:
    """N python-socketio clients (websocket transport) subscribed to `topic` in this process.

    Prints `ready` once all are subscribed, records (receipt wall time, newest event ms in the
    message, flush time ms) for every `update`, and on a `stop` line on stdin writes the samples
    as JSON to out_path and exits.
    """
    import socketio

    from streams.push import NAMESPACE

    samples: list[tuple[float, int, int]] = []
    errors: list[str] = []
    sizes: list[int] = []
    counts: list[list[tuple[float, dict[str, float]]]] = []  # one list per client
    if client_kind(kind) == "async":
        import asyncio

        async def main() -> None:
            clients: list[Any] = []

            async def one(i: int) -> None:
                c = socketio.AsyncClient(reconnection=False)
                counts.append(mine := [])
                c.on("update", _on_update(samples, sizes if i == 0 else None, mine), namespace=NAMESPACE)
                for attempt in range(5):
                    try:
                        await c.connect(url, transports=["websocket"], namespaces=[NAMESPACE], wait_timeout=10,
                                        headers={"Cookie": cookie})
                        break
                    except Exception as exc:  # noqa: BLE001 - retried, then reported
                        if attempt == 4:
                            raise
                        errors.append(str(exc))
                        await asyncio.sleep(0.5)
                snap = await c.call("subscribe", {"topics": [topic]}, namespace=NAMESPACE, timeout=30)
                if not isinstance(snap, dict) or "error" in snap:
                    raise RuntimeError(f"subscribe failed: {snap}")
                clients.append(c)

            for i in range(0, n, 10):
                await asyncio.gather(*(one(i + k) for k in range(min(10, n - i))))
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            _finish_clients(out_path, samples, sum(1 for c in clients if c.connected), len(clients), errors, sizes,
                            counts)

        asyncio.run(main())
        return
    clients = []
    for i in range(n):
        c = socketio.Client(reconnection=False)
        counts.append(mine := [])
        c.on("update", _on_update(samples, sizes if i == 0 else None, mine), namespace=NAMESPACE)
        for attempt in range(5):
            try:
                c.connect(url, transports=["websocket"], namespaces=[NAMESPACE], wait_timeout=10,
                          headers={"Cookie": cookie})
                break
            except Exception as exc:  # noqa: BLE001 - retried, then reported
                if attempt == 4:
                    raise
                errors.append(str(exc))
                time.sleep(0.5)
        snap = c.call("subscribe", {"topics": [topic]}, namespace=NAMESPACE, timeout=30)
        if not isinstance(snap, dict) or "error" in snap:
            raise RuntimeError(f"subscribe failed: {snap}")
        clients.append(c)
    print("ready", flush=True)
    sys.stdin.readline()
    _finish_clients(out_path, samples, sum(1 for c in clients if c.connected), len(clients), errors, sizes,
                    counts)


class ClientProcs:
    """Clients spread over a few processes: Socket.IO clients (`clients`; threading ones run ~4 threads
    each), or the dcc.Interval baseline's pollers (`poll`, bench.interval_poll)."""

    def __init__(self, url: str, n: int, procs: int, tmp: Path, kind: str = "auto", cookie: str = "",
                 topic: str = "overview", role: str = "clients"):
        self.kind = client_kind(kind)
        self.parts = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        self.parts = [p for p in self.parts if p]
        self.paths = [tmp / f"{role}-{i}.json" for i in range(len(self.parts))]
        extra = ["--kind", self.kind, "--topic", topic] if role == "clients" else []
        self.procs = [child(["bench.common", role, "--url", url, "--n", str(k), "--out", str(p), "--cookie", cookie,
                             *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                      for k, p in zip(self.parts, self.paths)]

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        for p in self.procs:
            while True:
                line = p.stdout.readline()  # type: ignore[union-attr]
                if line.strip() == "ready":
                    break
                if not line or time.monotonic() > deadline:
                    raise RuntimeError("a client process did not get ready")

    def stop(self) -> list[dict[str, Any]]:
        results = []
        for p in self.procs:
            with contextlib.suppress(BrokenPipeError):
                p.stdin.write("stop\n")  # type: ignore[union-attr]
                p.stdin.flush()  # type: ignore[union-attr]
        for p, path in zip(self.procs, self.paths):
            try:
                p.wait(120)
            except subprocess.TimeoutExpired:
                stop_process(p)
            if path.exists():
                results.append(json.loads(path.read_text()))
        return results

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]
