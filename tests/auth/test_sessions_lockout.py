"""Sessions and login throttling on the real Redis, with an injected clock."""

from __future__ import annotations

import pytest
import redis

from auth.lockout import Limits, LoginThrottle
from auth.sessions import SessionStore


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def new(store: SessionStore, user_id: int = 1, stage: str = "full"):  # type: ignore[no-untyped-def]
    return store.create(user_id=user_id, username=f"u{user_id}", roles=["duty_officer"], unit_id=None,
                        stage=stage, address="10.0.0.1")


def test_a_session_is_found_by_its_id_only(r: redis.Redis) -> None:
    store = SessionStore(r)
    s = new(store)
    assert store.get(s.sid) is not None and store.get(s.sid).username == "u1"
    assert store.get(s.sid + "x") is None and store.get("") is None and store.get(None) is None
    assert not any(s.sid.encode() in k for k in r.keys("*")), "the cookie value must not be readable from Redis"


def test_idle_timeout_restarts_with_use(r: redis.Redis) -> None:
    store = SessionStore(r, idle_s=300)
    s = new(store)
    assert 295 <= r.ttl(next(iter(r.keys("sess:[0-9a-f]*")))) <= 300
    r.expire(next(iter(r.keys("sess:[0-9a-f]*"))), 10)
    assert store.get(s.sid) is not None
    assert r.ttl(next(iter(r.keys("sess:[0-9a-f]*")))) > 290


def test_absolute_lifetime_ends_a_busy_session(r: redis.Redis) -> None:
    clock = Clock()
    store = SessionStore(r, idle_s=900, absolute_s=8 * 3600, clock=clock)
    s = new(store)
    clock.t += 8 * 3600 - 100
    assert store.get(s.sid) is not None
    assert r.ttl(next(iter(r.keys("sess:[0-9a-f]*")))) <= 100, "touch never extends past the absolute limit"
    clock.t += 101
    assert store.get(s.sid) is None


def test_advancing_a_stage_invalidates_the_old_id(r: redis.Redis) -> None:
    store = SessionStore(r)
    pre = new(store, stage="mfa")
    full = store.advance(pre, "full", mfa=True)
    assert store.get(pre.sid) is None
    got = store.get(full.sid)
    assert got is not None and got.stage == "full" and got.mfa and got.created == pre.created
    assert full.csrf != pre.csrf


def test_end_user_ends_every_session_of_that_account(r: redis.Redis) -> None:
    store = SessionStore(r)
    a1, a2, b = new(store, 1), new(store, 1), new(store, 2)
    assert store.end_user(1) == 2
    assert store.alive([a1.sid, a2.sid, b.sid]) == {a1.sid: False, a2.sid: False, b.sid: True}


def test_idle_limits_are_bounded(r: redis.Redis) -> None:
    with pytest.raises(ValueError, match="expected 5 to 30 minutes, got 60"):
        SessionStore(r, idle_s=3600)


def test_five_failures_lock_the_account_from_that_address_only(r: redis.Redis) -> None:
    clock = Clock()
    th = LoginThrottle(r, Limits(), clock)
    began = [th.failure("alice", "10.0.0.9") for _ in range(5)]
    assert began == [None, None, None, None, "address"]
    assert 890 <= th.locked_for("alice", "10.0.0.9") <= 900
    assert th.locked_for("alice", "10.0.0.1") is None, "the attacker's address must not lock alice out elsewhere"
    assert th.locked_for("bob", "10.0.0.9") is None


def test_failures_spread_over_a_window_do_not_lock(r: redis.Redis) -> None:
    clock = Clock()
    th = LoginThrottle(r, Limits(), clock)
    for _ in range(4):
        th.failure("alice", "10.0.0.9")
    clock.t += 901
    assert th.failure("alice", "10.0.0.9") is None
    assert th.locked_for("alice", "10.0.0.9") is None


def test_distributed_guessing_locks_the_account_and_the_security_admin_unlocks(r: redis.Redis) -> None:
    th = LoginThrottle(r, Limits(account_max=20), Clock())
    began = [th.failure("alice", f"10.1.0.{i}") for i in range(20)]
    assert began[-1] == "account" and began[:-1] == [None] * 19
    assert th.locked_for("alice", "192.168.1.1") is not None
    assert th.unlock("alice") >= 1
    assert th.locked_for("alice", "192.168.1.1") is None


def test_per_address_rate_limit_says_when_to_retry(r: redis.Redis) -> None:
    clock = Clock()
    th = LoginThrottle(r, Limits(per_address=20), clock)
    assert th.address_retry_after("10.0.0.5") is None
    clock.t += 15
    assert all(th.address_retry_after("10.0.0.5") is None for _ in range(19))
    assert th.address_retry_after("10.0.0.5") == 45, "the oldest attempt leaves the window in 45 s"
    assert th.address_retry_after("10.0.0.6") is None
    clock.t += 46
    assert th.address_retry_after("10.0.0.5") is None
