"""The test's side of the screen-page clients (tests/fault/page_client.py): child processes of asyncio clients,
each process in its own process group, asked for their status over stdin/stdout while the test runs and for
everything they noted at the end.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fault.services import PY, ROOT


@dataclass
class Status:
    """What the clients of all processes show: how many are connected and synced, and per "topic metric" the
    lowest and highest value on show."""

    clients: int
    connected: int
    synced: int
    ranges: dict[str, list[float]]

    def all_show(self, expected: dict[str, float]) -> bool:
        """Every client shows exactly `expected` ({"topic metric": value})."""
        return all(self.ranges.get(k, [0.0, 0.0]) == [v, v] for k, v in expected.items())


class ScreenClients:
    """`n` screen clients spread over `procs` child processes (asyncio: one thread each), each process in its
    own process group; `kill` ends them all (a finalizer's job)."""

    def __init__(self, url: str, n: int, procs: int, cookie: str, topics: list[str], tmp: Path):
        parts = [p for p in (n // procs + (1 if i < n % procs else 0) for i in range(procs)) if p]
        self.outs = [tmp / f"screen-clients-{i}.json" for i in range(len(parts))]
        self.logs = [tmp / f"screen-clients-{i}.log" for i in range(len(parts))]
        self.procs: list[subprocess.Popen[str]] = []
        self.lines: list[queue.Queue[str]] = []
        for k, out, log_path in zip(parts, self.outs, self.logs):
            with log_path.open("ab") as log:
                proc = subprocess.Popen(
                    [PY, "-m", "tests.fault.page_client", "--url", url, "--n", str(k), "--cookie", cookie,
                     "--topics", ",".join(topics), "--out", str(out)], cwd=ROOT, stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=_read_lines, args=(proc, lines), daemon=True).start()
            self.procs.append(proc)
            self.lines.append(lines)

    def _ask(self, line: str | None, timeout: float) -> list[dict[str, Any]]:
        if line is not None:
            for p in self.procs:
                p.stdin.write(line + "\n")  # type: ignore[union-attr]
                p.stdin.flush()  # type: ignore[union-attr]
        answers = []
        for p, q, log in zip(self.procs, self.lines, self.logs):
            try:
                answers.append(json.loads(q.get(timeout=timeout)))
            except queue.Empty:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise AssertionError(f"client process {p.pid} did not answer {line!r} within {timeout} s "
                                     f"(exit {p.poll()}):\n{tail}") from None
        return answers

    def started(self, timeout: float = 120) -> None:
        """Wait until every client's first connect returned (their first subscribe may still be in flight)."""
        self._ask(None, timeout)

    def status(self) -> Status:
        parts = self._ask("status", 30)
        ranges: dict[str, list[float]] = {}
        for part in parts:
            for k, (lo, hi) in part["ranges"].items():
                have = ranges.get(k)
                ranges[k] = [min(lo, have[0]), max(hi, have[1])] if have else [lo, hi]
        return Status(sum(p["clients"] for p in parts), sum(p["connected"] for p in parts),
                      sum(p["synced"] for p in parts), ranges)

    def wait(self, pred: Callable[[Status], bool], timeout: float, what: str) -> Status:
        """Ask for the status every 0.25 s until pred holds; fails the test with `what` and the last status."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if pred(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last status {st}")
            time.sleep(0.25)

    def stop(self) -> list[dict[str, Any]]:
        """Everything each client noted, one dict per client."""
        self._ask("stop", 60)
        notes: list[dict[str, Any]] = []
        for p, out in zip(self.procs, self.outs):
            p.wait(30)
            notes += json.loads(out.read_text())
        return notes

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)


def _read_lines(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    for line in proc.stdout:  # type: ignore[union-attr]
        if line.strip():
            lines.put(line)
