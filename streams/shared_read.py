"""One read at a time per key, shared by every caller that asked before it began.

After a web process restarts, every wall it served reconnects within the same second and asks for the
same topic's snapshot: 200 walls made 200 identical Redis reads at once, queued for the connection pool
and the interpreter, and the last walls resynced ~8 s after the web was back on a slow host (contract:
10 s). Sharing reads makes that two reads.

The rule that keeps a shared read correct: a caller may only take a read that *began after it asked*.
A subscriber joins its room first and reads second, so every update after the join is pushed to it and
everything before is in the read; a read that began before the join could miss an update that landed in
between. So a caller arriving while a read runs queues for the next one, which starts when the running
one ends and serves everyone queued by then: a caller waits at most two reads, and each key has at most
one read running and one queued.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None

    def result(self, timeout: float) -> T:
        if not self.done.wait(timeout):
            raise TimeoutError(f"a shared read took longer than {timeout} s")
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class SharedReads:
    """`get(key, read)`: the value of a `read` of `key` that began after the call, shared with other callers."""

    def __init__(self, timeout_s: float = 30.0):
        self.timeout_s = timeout_s  # a bound on waiting; the reads themselves end by their own (socket) timeouts
        self._lock = threading.Lock()
        self._queued: dict[Hashable, _Flight] = {}
        self._running: dict[Hashable, _Flight] = {}
        self.reads = 0  # reads actually made (the rest were shared)

    def get(self, key: Hashable, read: Callable[[], T]) -> T:
        with self._lock:
            queued = self._queued.get(key)
            if queued is None:
                flight: _Flight[T] = _Flight()
                self._queued[key] = flight
                before = self._running.get(key)
        if queued is not None:
            return queued.result(self.timeout_s)  # type: ignore[no-any-return]
        if before is not None:  # the caller who queued first waits for the running read, then reads for all
            before.done.wait(self.timeout_s)
        with self._lock:
            del self._queued[key]  # from now on, callers queue for the next read
            self._running[key] = flight
            self.reads += 1
        try:
            flight.value = read()
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of this read
            flight.error = exc
        finally:
            with self._lock:
                if self._running.get(key) is flight:
                    del self._running[key]
            flight.done.set()
        return flight.result(0)
