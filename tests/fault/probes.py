"""What the fault tests measure and compare: warehouse rows, stream backlog, live state, figures.

Reads only: the fact tables and the outbox through the test's reader engine, the streams'
consumer group, live state and dead letters through the observer's own Redis connection.
`Figures` prints the measured numbers and merges them into bench/out/fault_figures.json.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import Engine, func, select, text

from streams.codec import DEAD_LETTER
from tests.fault.load import GROUP, STREAMS
from tests.fault.services import ROOT
from warehouse.facts import FactTables
from warehouse.ops import outbox

FIGURES = ROOT / "bench" / "out" / "fault_figures.json"


def stored_keys(engine: Engine, tables: FactTables) -> collections.Counter[str]:
    """Rows per key across the fact tables (a key stored twice would count 2)."""
    counts: collections.Counter[str] = collections.Counter()
    with engine.connect() as conn:
        for ft in tables:
            for (key,) in conn.execute(select(ft.table.c.key)):
                counts[key] += 1
        conn.rollback()
    return counts


def row_count(engine: Engine, tables: FactTables) -> int:
    with engine.connect() as conn:
        n = sum(conn.execute(select(func.count()).select_from(ft.table)).scalar_one() for ft in tables)
        conn.rollback()
    return n


def outbox_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
        conn.rollback()
    return n


def backlog(r: redis.Redis) -> tuple[int, int]:
    """(lag, pending) summed over the streams: entries not yet delivered, delivered but not acked."""
    lag = pending = 0
    for s in STREAMS:
        if not r.exists(s):
            continue
        for g in r.xinfo_groups(s):
            if (g["name"].decode() if isinstance(g["name"], bytes) else g["name"]) != GROUP:
                continue
            pending += int(g["pending"])
            lag += int(g["lag"]) if g.get("lag") is not None else int(r.xlen(s))
    return lag, pending


def drained(r: redis.Redis, engine: Engine) -> bool:
    lag, pending = backlog(r)
    return lag == 0 and pending == 0 and outbox_rows(engine) == 0


def live_totals(r: redis.Redis) -> dict[str, float]:
    """Today's sums summed over every day kept, plus the levels and source sequence counts."""
    out: collections.Counter[str] = collections.Counter()
    for key in r.scan_iter(match="live:sum:*", count=1000):
        for metric, value in r.hgetall(key).items():
            out[metric.decode()] += float(value)
    for metric, value in r.hgetall("live:level").items():
        out["level:" + metric.decode()] = float(value)
    for key in r.scan_iter(match="live:srcseq:*", count=1000):
        out["seq_n:" + key.decode().split(":", 2)[2]] = float(r.hget(key, "n") or 0)
    return dict(out)


def warehouse_totals(engine: Engine, tables: FactTables) -> dict[str, float]:
    meal, gate = tables["tcant.meal"].table, tables["tgate.pass"].table
    with engine.connect() as conn:
        meals = conn.execute(select(func.count()).select_from(meal)).scalar_one()
        revenue = conn.execute(select(func.coalesce(func.sum(meal.c.amount), 0))).scalar_one()
        gates = conn.execute(select(func.count()).select_from(gate)).scalar_one()
        ins = conn.execute(select(func.count()).select_from(gate).where(gate.c.direction == "in")).scalar_one()
        conn.rollback()
    return {"tcant.events": meals, "tcant.meals": meals, "tcant.revenue": float(revenue), "tgate.events": gates,
            "level:tgate.onsite": ins - (gates - ins), "seq_n:t.cant": meals, "seq_n:t.gate": gates}


def assert_live_matches_warehouse(r: redis.Redis, engine: Engine, tables: FactTables) -> dict[str, float]:
    live, wh = live_totals(r), warehouse_totals(engine, tables)
    diffs = {k: (live.get(k, 0.0), v) for k, v in wh.items() if abs(live.get(k, 0.0) - float(v)) > 1e-6 * max(1, v)}
    assert not diffs, f"live state differs from the warehouse (live, warehouse): {diffs}"
    return wh


def dead_letters(r: redis.Redis) -> list[dict[str, bytes]]:
    return [fields for _id, fields in r.xrange(DEAD_LETTER)]


def failed_tries(r: redis.Redis) -> dict[str, int]:
    """Entries counted as failing by a handler (streams.consumer count_failure) and not dead-lettered."""
    out: dict[str, int] = {}
    for key in r.scan_iter(match="tries:*", count=1000):
        for entry, n in r.hgetall(key).items():
            out[f"{key.decode()}/{entry.decode()}"] = int(n)
    return out


def sql_ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


# --- samples and figures -------------------------------------------------------------------------------
class Figures:
    """Measured numbers: printed (pytest -s shows them) and merged into bench/out/fault_figures.json."""

    def __init__(self, test: str):
        self.test = test
        self.values: dict[str, Any] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value
        print(f"[fault] {self.test}: {key} = {value}", flush=True)

    def update(self, items: dict[str, Any]) -> None:
        for k, v in items.items():
            self[k] = v

    def save(self, outcome: str) -> None:
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        try:
            doc = json.loads(FIGURES.read_text())
        except (OSError, ValueError):
            doc = {}
        doc.setdefault("tests", {})[self.test] = {"outcome": outcome, "at": dt.datetime.now(dt.UTC).isoformat(
            timespec="seconds"), **self.values}
        doc["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
        FIGURES.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")


def rate(n: float, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


@dataclass
class Sampler:
    """Samples a function of time in a thread: (seconds since start, value)."""

    fn: Callable[[], Any]
    every: float = 0.25
    samples: list[tuple[float, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.samples.append((time.monotonic() - self._t0, self.fn()))
            except Exception:  # noqa: BLE001 - a sample may fail while the fault is on
                pass

    def stop(self) -> list[tuple[float, Any]]:
        self._stop.set()
        self._thread.join(5)
        return self.samples
