"""The figures of a run and their output: stage timers inside a consumer, process CPU and memory,
percentiles and slopes, a plain-text table for stdout and the full data as JSON under bench/out/.

The stage timers wrap per-batch calls of the product's own consumer in a bench child process, so
the product's code is measured as it is and never changed for it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "out"


# --- stage timers ----------------------------------------------------------------------------------------
class Stages:
    """Exclusive wall time per stage of nested calls (a stage's time excludes the stages it calls).

    Wrapping is per call of a per-batch function (read, write_batch, apply, ...), so it costs a
    few microseconds per batch of 1,000 events and never touches the per-event path.
    """

    def __init__(self) -> None:
        self.excl: dict[str, float] = defaultdict(float)  # wall seconds
        self.cpu: dict[str, float] = defaultdict(float)  # this thread's CPU seconds
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._local = threading.local()  # the consumer's reading, writing and applying threads nest separately

    @property
    def _stack(self) -> list[list[Any]]:
        """This thread's open stages: [stage, wall start, cpu start, child wall, child cpu]."""
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def current(self) -> str | None:
        stack = self._stack
        return stack[-1][0] if stack else None

    def wrap(self, fn: Callable[..., Any], stage: str | Callable[[], str]) -> Callable[..., Any]:
        perf, cpu = time.perf_counter, time.thread_time

        def timed(*a: Any, **k: Any) -> Any:
            name = stage if isinstance(stage, str) else stage()
            frame = [name, perf(), cpu(), 0.0, 0.0]
            stack = self._stack
            stack.append(frame)
            try:
                return fn(*a, **k)
            finally:
                stack.pop()
                wall, used = perf() - frame[1], cpu() - frame[2]
                with self._lock:
                    self.excl[name] += wall - frame[3]
                    self.cpu[name] += used - frame[4]
                    self.calls[name] += 1
                if stack:
                    stack[-1][3] += wall
                    stack[-1][4] += used

        return timed

    def patch(self, obj: Any, attr: str, stage: str) -> None:
        setattr(obj, attr, self.wrap(getattr(obj, attr), stage))

    def reset(self) -> None:
        self.excl.clear()
        self.cpu.clear()
        self.calls.clear()

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {"excl": dict(self.excl), "cpu": dict(self.cpu), "calls": dict(self.calls)}

    def add(self, snap: dict[str, dict[str, float]]) -> None:
        for k, v in snap.get("excl", {}).items():
            self.excl[k] += v
        for k, v in snap.get("cpu", {}).items():
            self.cpu[k] += v
        for k, v in snap.get("calls", {}).items():
            self.calls[k] += int(v)

    def report(self, events: int) -> list[dict[str, Any]]:
        """Rows per stage in pipeline order: wall and CPU µs per event, share of the wall time, calls.

        Wall minus CPU is time spent waiting: on Redis or the database (their own CPU, fsync), or
        for a CPU while other processes ran.
        """
        total = sum(self.excl.values()) or 1.0
        per = (lambda sec: round(1e6 * sec / events, 2)) if events else (lambda sec: None)
        rows = []
        for key, title in STAGE_ORDER:
            if key in self.excl:
                sec = self.excl[key]
                rows.append({"stage": key, "what": title, "seconds": round(sec, 4),
                             "share_pct": round(100 * sec / total, 1), "us_per_event": per(sec),
                             "cpu_us_per_event": per(self.cpu.get(key, 0.0)), "calls": self.calls[key]})
        rows.append({"stage": "total", "what": "total (one consumer's loop)", "seconds": round(total, 4),
                     "share_pct": 100.0, "us_per_event": per(total), "cpu_us_per_event": per(sum(self.cpu.values())),
                     "calls": None})
        return rows


STAGE_ORDER = [
    ("xreadgroup", "XREADGROUP (Redis round trip + reply parse)"),
    ("decode", "decode (msgspec, per entry)"),
    ("fold_deltas", "fold live-state deltas (analytics.deltas.fold)"),
    ("facts_insert", "sink: fact rows insert (executemany / COPY + INSERT)"),
    ("rollup_fold", "sink: rollup increments fold"),
    ("rollup_upsert", "sink: rollup + seq upserts"),
    ("db_commit", "sink: COMMIT of the batch (fsync)"),
    ("sink_other", "sink: connect, group, outbox + position rows"),
    ("lua_apply", "Lua apply + XACK"),
    ("outbox_delete", "outbox delete (mark_applied, own transaction)"),
    ("outbox_commit", "outbox delete COMMIT (second fsync)"),
    ("outbox_check", "outbox check per step (pending_outbox SELECT)"),
    ("reclaim", "XAUTOCLAIM (every claim_idle/4)"),
    ("push_note", "pusher note (on_applied)"),
    ("loop_other", "consumer loop and bookkeeping"),
]


def instrument_consumer(consumer: Any) -> Stages:
    """Time the consumer's stages in this process (bench children only; product code is untouched)."""
    import warehouse.sink as sink_mod
    from warehouse.rollups import Increments

    st = Stages()
    st.patch(consumer, "step", "loop_other")
    st.patch(consumer, "flush_outbox", "loop_other")
    st.patch(consumer.sink, "pending_outbox", "outbox_check")
    st.patch(consumer, "reclaim", "reclaim")
    st.patch(consumer.r, "xreadgroup", "xreadgroup")
    st.patch(consumer, "decode", "decode")  # on the reader thread (next reply) or in reclaim
    st.patch(consumer, "commit", "loop_other")
    st.patch(consumer.sink, "write_batch", "sink_other")
    consumer.deltas = st.wrap(consumer.deltas, "fold_deltas")
    sink_mod.insert_new = st.wrap(sink_mod.insert_new, "facts_insert")
    Increments.add = st.wrap(Increments.add, "rollup_fold")  # type: ignore[method-assign]
    Increments.apply = st.wrap(Increments.apply, "rollup_upsert")  # type: ignore[method-assign]
    st.patch(consumer.live, "apply", "lua_apply")
    st.patch(consumer.sink, "mark_applied", "outbox_delete")
    if consumer.on_applied is not None:
        consumer.on_applied = st.wrap(consumer.on_applied, "push_note")
    dialect = consumer.sink.engine.dialect
    # mark_applied's own transaction commits too: that is the second fsync of every batch
    dialect.do_commit = st.wrap(dialect.do_commit,
                                lambda: "outbox_commit" if st.current() == "outbox_delete" else "db_commit")
    return st


# --- process figures -------------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def cpu_seconds(pid: int | None = None) -> float:
    import psutil

    t = psutil.Process(pid or os.getpid()).cpu_times()
    return t.user + t.system


def percentiles(values: Sequence[float] | np.ndarray, ps: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
    """Nearest-rank percentiles; a numpy array is sorted by numpy (millions of values, no Python list)."""
    if not len(values):
        return {f"p{int(p)}": float("nan") for p in ps}
    s = np.sort(values) if isinstance(values, np.ndarray) else sorted(values)
    out = {}
    for p in ps:
        k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
        out[f"p{int(p)}"] = s[k]
    return out


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return 60.0 * sxy / sxx if sxx else 0.0


# --- output -----------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    import psutil

    return {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "host": platform.node(),
            "cpus": os.cpu_count(), "mem_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(terse=True),
            "cpu_model": _cpu_info("model name"), "cpu_mhz": _cpu_info("cpu MHz"), "gauge_ns": host_gauge_ns()}


def host_gauge_ns() -> float:
    """Nanoseconds per step of a fixed pure-Python loop (best of 5): how fast this host runs the interpreter.

    Machines of the project's kind have differed ~2x in it between sessions, and every rate the benches
    print moved with it; divide by it (or compare CPU µs per event) before comparing figures across hosts.
    """
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return round(best * 1e3, 1)


def gauge_line(gauge_ns: float | None = None) -> str:
    """One line naming the host's speed, printed above each bench's table (`gauge_ns`: one already measured)."""
    return (f"host: {_cpu_info('model name') or platform.machine()} at {_cpu_info('cpu MHz') or '?'} MHz, "
            f"{os.cpu_count()} CPUs; Python loop gauge {gauge_ns or host_gauge_ns()} ns/step "
            f"(67 on the 2.0 GHz host of 2026-12-06)")


def _cpu_info(field: str) -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], title: str = "") -> str:
    """A plain-text table: columns are (key, header); numbers are formatted with separators."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return "" if v is None else str(v)

    cells = [[fmt(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, (_, h) in enumerate(columns)]
    line = "  ".join(h.ljust(w) for (_, h), w in zip(columns, widths))
    out = [title] if title else []
    out += [line, "  ".join("-" * w for w in widths)]
    for c in cells:
        out.append("  ".join(v.rjust(w) if v[:1].isdigit() or v[:1] == "-" else v.ljust(w) for v, w in zip(c, widths)))
    return "\n".join(out)


def write_json(name: str, data: dict[str, Any]) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path
