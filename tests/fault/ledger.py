"""The Jepsen-style ledger of the fault tests: every submit call, its time span and its outcome.

Each submitted event is *ok* (Redis returned its id), *fail* (refused, and provably never
written: the whole call ran inside a fault window the test declared, while the fault made any
write impossible) or *unknown* (refused or raised while a write may have happened, e.g. the
connection broke after the request left, or the call straddled the start or the end of a fault).
A key submitted more than once (retries, duplicates) takes its best status: ok if any copy was
accepted, else unknown if any copy may have been written, else fail.

At the end every ok event must be in the warehouse exactly once, no fail event at all, and
nothing the ledger never offered; unknown events may or may not be there (only counted).
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass


@dataclass
class Op:
    """One submit call: the keys it carried, its monotonic start and end, and what it returned."""

    keys: list[str]
    start: float
    end: float
    outcome: str  # ok | refused | error
    error: str = ""


@dataclass
class Verdict:
    """The ledger against the warehouse: keys per status, and the violations (ok keys lost, keys stored
    twice, fail keys stored, stored keys never submitted); unknown keys stored are only counted."""

    ok: int
    fail: int
    unknown: int
    stored: int
    lost: list[str]
    duplicated: list[str]
    fail_stored: list[str]
    phantom: list[str]
    unknown_stored: int

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.fail_stored or self.phantom)

    def summary(self) -> dict[str, int]:
        return {"ok": self.ok, "fail": self.fail, "unknown": self.unknown, "stored": self.stored,
                "lost": len(self.lost), "duplicated": len(self.duplicated), "fail_stored": len(self.fail_stored),
                "phantom": len(self.phantom), "unknown_stored": self.unknown_stored}


class Ledger:
    """Every submit call with its time span and outcome; faults are time windows given by the test."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.faults: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def record(self, op: Op) -> None:
        with self._lock:
            self.ops.append(op)

    def fault(self, begin: float, end: float) -> None:
        """A window in which no write can reach Redis (server dead, or every byte blackholed)."""
        self.faults.append((begin, end))

    def status(self, op: Op) -> str:
        if op.outcome == "ok":
            return "ok"
        if op.outcome == "refused" and any(b <= op.start and op.end <= e for b, e in self.faults):
            return "fail"
        return "unknown"

    def keys_by_status(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {"ok": set(), "fail": set(), "unknown": set()}
        with self._lock:
            ops = list(self.ops)
        for op in ops:
            out[self.status(op)].update(op.keys)
        # a key submitted again (retries, duplicates) is ok if any copy was accepted
        out["fail"] -= out["ok"] | out["unknown"]
        out["unknown"] -= out["ok"]
        return out

    def ops_in(self, begin: float, end: float) -> list[Op]:
        with self._lock:
            return [op for op in self.ops if begin <= op.start and op.end <= end]

    def check(self, stored: collections.Counter[str]) -> Verdict:
        k = self.keys_by_status()
        everything = k["ok"] | k["fail"] | k["unknown"]
        return Verdict(
            ok=len(k["ok"]), fail=len(k["fail"]), unknown=len(k["unknown"]), stored=sum(stored.values()),
            lost=sorted(k["ok"] - stored.keys()), duplicated=sorted(x for x, n in stored.items() if n > 1),
            fail_stored=sorted(k["fail"] & stored.keys()), phantom=sorted(stored.keys() - everything),
            unknown_stored=len(k["unknown"] & stored.keys()))
