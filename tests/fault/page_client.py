"""Screen pages without a browser: Socket.IO clients of /live that follow assets/screen.js's protocol, many to
a process, for the fault tests that need hundreds of walls (a browser per wall would not fit on 2 cores).
tests/fault/screen_clients.py starts and asks them from the test's process.

Each client does what a screen page does: it connects with the signed-in session's cookie (and the page's
Origin), subscribes to all its topics on every (re)connect and takes the ack's snapshots as its resync;
`update`s arriving while a subscribe is in flight are held (at most PENDING_MAX, beyond that it subscribes
again); an update, held or not, is applied only if not older than its topic's snapshot (`not_older`); a lost
connection makes the numbers stale until the next snapshot; reconnecting is the client library's (1 s
doubling to 5 s, as screen.js asks of socket.io).

What a client shows is noted as it changes: connects, disconnects (with the values then on show), resyncs
(with the snapshot's values) and counts of updates. It also checks what a page would draw: after a resync
nothing below the snapshot's values or below what was on show before the loss, after an update nothing lower
than before. The fault tests' workloads only add (meals, raised alarms), so a number that goes down within a
day means an older value was shown as current. It runs as `python -m
tests.fault.page_client ...`, answers `status` lines on stdin with one JSON line, and on `stop` writes
everything it noted to --out as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

NAMESPACE = "/live"  # streams.push.NAMESPACE, not imported: a client process needs no product code
PENDING_MAX = 200  # assets/screen.js: updates held while a subscribe is in flight
SUBSCRIBE_TIMEOUT_S = 5.0
RETRY_S = 5.0
MAX_VIOLATIONS = 20


def not_older(update_v: int, snapshot_v: int) -> bool:
    """screen.js's and live.js's rule for an update (notOlderThanSnapshot): apply it only if the version of the
    state its values come from is not below the snapshot's. The snapshot shows exactly state snapshot_v, and
    every change after it comes in an update read at a higher version, so an older update carries nothing
    the page lacks: applied, it would show older numbers as current (streams/topics.py)."""
    return update_v >= snapshot_v


def newer_value(update_v: int, value_v: int) -> bool:
    """screen.js's newerValue: with several consumers each pushing through its own pusher, updates can arrive
    out of version order, so a value on show is replaced only by one read from a state at least as new."""
    return update_v >= value_v


def now() -> float:
    """time.monotonic(): one system-wide clock on Linux, so the test process can compare our times with its own."""
    return time.monotonic()


class ScreenClient:
    """One screen page's socket and what it shows: topic -> metric -> value, sums and levels."""

    def __init__(self, url: str, cookie: str, topics: list[str]):
        from http.cookies import SimpleCookie

        import aiohttp
        import socketio

        self.url, self.topics = url, topics
        # A browser sends its cookie with every (re)connect. engineio's asyncio client takes a Cookie header out
        # of the headers at the first connect and drops its cookie jar when the connection is lost, so a
        # reconnect would come without the session: each connection gets a fresh HTTP session holding it.
        jar = {k: m.value for k, m in SimpleCookie(cookie).items()}
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=1, reconnection_delay_max=5,
                                        handle_sigint=False, http_session=lambda: aiohttp.ClientSession(cookies=jar))
        self.shown: dict[str, dict[str, float]] = {}
        self.day: dict[str, str] = {}
        self.snap_v: dict[str, int] = {}
        self.value_v: dict[str, dict[str, int]] = {}  # topic -> metric -> `v` of the value on show
        self.synced = False
        self.pending: list[dict[str, Any]] = []
        self.overflowed = False
        self.gen = 0
        self.answered = 0  # the last subscribe generation whose ack (or timeout) was handled
        self.note: dict[str, Any] = {"connects": [], "disconnects": [], "syncs": [], "refusals": [],
                                     "violations": [], "violation_count": 0, "updates": 0, "held_applied": 0,
                                     "held_older_dropped": 0, "older_dropped": 0}
        self.sio.on("connect", self.on_connect, namespace=NAMESPACE)
        self.sio.on("disconnect", self.on_disconnect, namespace=NAMESPACE)
        self.sio.on("update", self.on_update, namespace=NAMESPACE)

    async def start(self) -> None:
        await self.sio.connect(self.url, headers={"Origin": self.url},
                               transports=["websocket"], namespaces=[NAMESPACE], wait_timeout=10, retry=True)

    # --- connection -------------------------------------------------------------------------------------
    def on_connect(self) -> None:
        self.note["connects"].append(now())
        self.subscribe()

    def on_disconnect(self, reason: Any = None) -> None:
        self.note["disconnects"].append([now(), str(reason), _copy(self.shown)])
        self.synced, self.pending, self.overflowed = False, [], False
        self.gen += 1  # an ack still in flight belongs to the old connection

    def subscribe(self) -> None:
        self.gen += 1
        self.synced = False
        gen = self.gen
        loop = asyncio.get_running_loop()
        loop.create_task(self._emit(gen))
        loop.call_later(SUBSCRIBE_TIMEOUT_S, self._refused, gen, "no ack within the timeout")

    async def _emit(self, gen: int) -> None:
        from socketio.exceptions import BadNamespaceError

        try:
            await self.sio.emit("subscribe", {"topics": self.topics}, namespace=NAMESPACE,
                                callback=lambda ack=None: self.on_ack(gen, ack))
        except BadNamespaceError:
            pass  # disconnected meanwhile: the next connect subscribes again

    def _refused(self, gen: int, why: str) -> None:
        if gen != self.gen or self.answered >= gen:
            return
        self.answered = gen
        self.note["refusals"].append([now(), why])
        asyncio.get_running_loop().call_later(RETRY_S, self._retry, gen)

    def _retry(self, gen: int) -> None:
        if gen == self.gen and self.sio.connected:
            self.subscribe()

    # --- messages ---------------------------------------------------------------------------------------
    def on_ack(self, gen: int, ack: Any) -> None:
        """The resync: snapshots replace what is shown, then the held updates not older than them apply. A page
        draws only after all of it, so what is checked is the result: nothing lower than the snapshot carried
        or than the page showed (as stale) before the loss."""
        if gen != self.gen or self.answered >= gen:
            return
        snaps = None
        if isinstance(ack, dict) and "error" not in ack:
            snaps = ack.get("snapshots") or ({ack["topic"]: ack} if isinstance(ack.get("topic"), str) else None)
        if not snaps or any(not _stamped(snaps.get(t)) for t in self.topics):
            self._refused(gen, str(ack.get("error") if isinstance(ack, dict) else ack)[:200])
            return
        self.answered = gen
        floor = {}
        for topic in self.topics:
            snap = snaps[topic]
            values = {**snap.get("sums", {}), **snap.get("levels", {})}
            before = self.shown.get(topic, {}) if snap.get("day") == self.day.get(topic) else {}
            floor[topic] = {m: max(values.get(m, 0.0), before.get(m, 0.0)) for m in {*values, *before}}
            self.shown[topic] = dict(values)
            self.day[topic] = snap.get("day", "")
            self.snap_v[topic] = snap["v"]
            self.value_v[topic] = {}
        held, self.pending = self.pending, []
        for msg in held:
            if not_older(msg["v"], self.snap_v[msg["topic"]]):
                self.note["held_applied"] += 1
                self._apply(msg, check=False)
            else:
                self.note["held_older_dropped"] += 1
        for topic, values in floor.items():
            for metric, low in values.items():
                if self.shown[topic].get(metric, 0.0) < low and self.day[topic] == snaps[topic].get("day"):
                    self._violation(f"{topic} {metric}: {self.shown[topic].get(metric, 0.0)} shown after the resync, "
                                    f"below the {low} of the snapshot or of what was on show before the loss")
        if self.overflowed:  # updates were dropped while waiting: take another snapshot instead
            self.overflowed = False
            self.subscribe()
            return
        self.synced = True
        self.note["syncs"].append([now(), dict(self.snap_v), _copy(self.shown)])

    def on_update(self, msg: Any) -> None:
        if not _stamped(msg) or msg["topic"] not in self.topics:
            return
        if not self.synced:
            if len(self.pending) < PENDING_MAX:
                self.pending.append(msg)
            else:
                self.overflowed = True
            return
        if not not_older(msg["v"], self.snap_v[msg["topic"]]):
            self.note["older_dropped"] += 1  # read before the snapshot, delivered after it
            return
        self._apply(msg, check=True)

    def _apply(self, msg: dict[str, Any], *, check: bool) -> None:
        """An update's absolute values replace those on show; with `check`, any that goes down within a day is
        an older value shown as current (the workloads only add)."""
        self.note["updates"] += 1
        topic, day = msg["topic"], msg.get("day", "")
        cur, value_v = self.shown.setdefault(topic, {}), self.value_v.setdefault(topic, {})
        if day != self.day.get(topic, day):
            cur.clear()  # a new day: today's totals start again
        values = {m: x for m, x in {**msg.get("sums", {}), **msg.get("levels", {})}.items()
                  if newer_value(msg["v"], value_v.get(m, 0))}
        if check and day == self.day.get(topic, day):
            for metric, new in values.items():
                if new < cur.get(metric, 0.0):
                    self._violation(f"{topic} {metric} went back from {cur[metric]} to {new}")
        self.day[topic] = day
        cur.update(values)
        value_v.update(dict.fromkeys(values, msg["v"]))

    def _violation(self, what: str) -> None:
        self.note["violation_count"] += 1
        if len(self.note["violations"]) < MAX_VIOLATIONS:
            self.note["violations"].append([now(), what])

    def final(self) -> dict[str, Any]:
        return {**self.note, "shown": self.shown, "synced": self.synced, "connected": self.sio.connected}


def _stamped(msg: Any) -> bool:
    """A snapshot or update as the pages accept it: a dict with the topic, the version `v` and the time `t`."""
    return isinstance(msg, dict) and isinstance(msg.get("topic"), str) and isinstance(msg.get("v"), int) \
        and isinstance(msg.get("t"), int)


def _copy(shown: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {t: dict(v) for t, v in shown.items()}


def status(clients: list[ScreenClient]) -> dict[str, Any]:
    """How many are connected and synced, and per topic and metric the lowest and highest value on show."""
    ranges: dict[str, list[float]] = {}
    keys = {(t, m) for c in clients for t, vals in c.shown.items() for m in vals}
    for t, m in keys:
        vals = [c.shown.get(t, {}).get(m, 0.0) for c in clients]
        ranges[f"{t} {m}"] = [min(vals), max(vals)]
    return {"clients": len(clients), "connected": sum(c.sio.connected for c in clients),
            "synced": sum(c.synced for c in clients), "ranges": ranges}


async def serve(url: str, n: int, cookie: str, topics: list[str], out: Path) -> None:
    clients = [ScreenClient(url, cookie, topics) for _ in range(n)]
    for i in range(0, n, 10):  # ten at a time, as walls come up over a few seconds rather than at once
        await asyncio.gather(*(c.start() for c in clients[i:i + 10]))
    print(json.dumps({"started": n}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "status":
            print(json.dumps(status(clients)), flush=True)
        elif line in ("stop", ""):
            out.write_text(json.dumps([c.final() for c in clients]))
            print(json.dumps({"stopped": n}), flush=True)
            os._exit(0)  # a clean disconnect of each socket would take seconds; the server sees them close


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="screen-page Socket.IO clients (started by the fault tests)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--cookie", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated, e.g. screen:overview,screen:security")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.url, args.n, args.cookie, args.topics.split(","), Path(args.out)))


if __name__ == "__main__":
    main()
