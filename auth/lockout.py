"""Login throttling: a lock per account and address, a wider lock per account, a rate per address.

MLPS assessors expect "locked after 5 failures in 15 minutes for 15 minutes". A plain per-account
lock lets an attacker lock everybody out by guessing wrong five times per name, so the 5-failure
lock applies to the (account, address) pair: the guesser locks only themselves. Guessing spread
over many addresses still locks the account once it reaches `account_max` failures, and every
address is limited to `per_address` login attempts a minute (HTTP 429 with Retry-After).
Counters live in Redis so every web process sees them; the security administrator can unlock.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


@dataclass(frozen=True)
class Limits:
    max_failures: int = 5
    window_s: int = 900
    lock_s: int = 900
    account_max: int = 20
    per_address: int = 20  # login attempts per minute


class LoginThrottle:
    def __init__(self, r: redis.Redis, limits: Limits = Limits(), clock: Callable[[], float] = time.time):
        self.r, self.lim, self.clock = r, limits, clock

    def address_retry_after(self, address: str) -> int | None:
        """Count one attempt from `address` in a sliding minute; seconds to wait when over the limit."""
        return sliding_window(self.r, f"lk:rate:{address}", self.lim.per_address, 60, self.clock())

    def locked_for(self, username: str, address: str) -> int | None:
        """Seconds left on a lock that stops this account logging in from this address, or None."""
        ttls = [self.r.ttl(f"lk:lock:{username}:{address}"), self.r.ttl(f"lk:lock:{username}")]
        left = [t for t in ttls if t and t > 0]
        return max(left) if left else None

    def failure(self, username: str, address: str) -> str | None:
        """Record a failed attempt; returns "address" or "account" when a lock begins now (to audit)."""
        now = self.clock()
        began = None
        for key, limit, lock_key, kind in (
            (f"lk:fail:{username}:{address}", self.lim.max_failures, f"lk:lock:{username}:{address}", "address"),
            (f"lk:fail:{username}", self.lim.account_max, f"lk:lock:{username}", "account"),
        ):
            pipe = self.r.pipeline()
            pipe.zadd(key, {f"{now:.6f}:{secrets.token_hex(4)}": now})  # unique per attempt
            pipe.zremrangebyscore(key, "-inf", now - self.lim.window_s)
            pipe.zcard(key)
            pipe.expire(key, self.lim.window_s)
            n = pipe.execute()[2]
            if n >= limit and self.r.set(lock_key, "1", ex=self.lim.lock_s, nx=True):
                self.r.delete(key)
                began = began or kind
        return began

    def success(self, username: str, address: str) -> None:
        self.r.delete(f"lk:fail:{username}:{address}")

    def unlock(self, username: str) -> int:
        """Lift every lock and failure count of an account (the security administrator's action)."""
        keys = [f"lk:lock:{username}", f"lk:fail:{username}"]
        for pattern in (f"lk:lock:{username}:*", f"lk:fail:{username}:*"):
            keys += list(self.r.scan_iter(match=pattern, count=500))
        return int(self.r.delete(*keys))


def sliding_window(r: redis.Redis, key: str, limit: int, window_s: int, now: float) -> int | None:
    """Count one attempt under `key`; None when within `limit` per `window_s`, else whole seconds to wait.

    A refused attempt is not counted, so a client that waits the given time gets through."""
    member = f"{now:.6f}:{secrets.token_hex(4)}"
    pipe = r.pipeline()
    pipe.zremrangebyscore(key, "-inf", now - window_s)
    pipe.zadd(key, {member: now})
    pipe.zcard(key)
    pipe.zrange(key, 0, 0, withscores=True)
    pipe.expire(key, window_s + 1)
    _, _, n, oldest, _ = pipe.execute()
    if n <= limit:
        return None
    r.zrem(key, member)
    return max(1, math.ceil(oldest[0][1] + window_s - now))
