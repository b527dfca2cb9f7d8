"""SharedReads: callers share a read only if it began after they asked."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from streams.shared_read import SharedReads


class Source:
    """A read that numbers itself and can be held open until released."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def read(self) -> int:
        n = next(self.counter)
        self.started.set()
        assert self.gate.wait(10)
        return n


def test_calls_one_after_another_each_read() -> None:
    shared, src = SharedReads(), Source()
    assert [shared.get("k", src.read) for _ in range(3)] == [1, 2, 3]
    assert shared.reads == 3


def test_callers_arriving_during_a_read_share_the_next_one_not_the_running_one() -> None:
    shared, src = SharedReads(), Source()
    src.gate.clear()
    first: list[int] = []
    leader = threading.Thread(target=lambda: first.append(shared.get("k", src.read)))
    leader.start()
    assert src.started.wait(5)  # read 1 is running
    got: list[int] = []
    lock = threading.Lock()

    def late() -> None:
        value = shared.get("k", src.read)
        with lock:
            got.append(value)

    callers = [threading.Thread(target=late) for _ in range(20)]
    for t in callers:
        t.start()
    time.sleep(0.2)  # all 20 have queued behind the running read
    assert got == []
    src.gate.set()
    for t in [leader, *callers]:
        t.join(5)
    assert first == [1]
    assert got == [2] * 20  # one read for all, and it began after they asked
    assert shared.reads == 2


def test_keys_do_not_share() -> None:
    shared, src = SharedReads(), Source()
    assert (shared.get("a", src.read), shared.get("b", src.read)) == (1, 2)


def test_an_error_reaches_the_callers_of_that_read_and_the_next_call_reads_again() -> None:
    shared = SharedReads()
    calls = itertools.count(1)

    def flaky() -> int:
        n = next(calls)
        if n == 1:
            raise ConnectionError("redis went away")
        return n

    with pytest.raises(ConnectionError, match="went away"):
        shared.get("k", flaky)
    assert shared.get("k", flaky) == 2
