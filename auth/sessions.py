"""Server-side sessions in Redis: revocable at once, idle and absolute timeouts, a new id per stage.

Flask's signed-cookie session cannot be revoked, so people get an opaque random id whose record
lives in Redis under the id's SHA-256 (a read of Redis does not yield usable cookies). Logging
out, a timeout, disabling the account or changing its roles deletes the record; the socket
sweeper (callbacks/live_socket.py) then closes that session's sockets within seconds.

A login passes through stages (password -> second factor or enrolment -> password change ->
full); each stage change issues a new id, so an id seen before login is worthless after it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace

import redis

FULL = "full"
STAGES = ("mfa", "enrol", "password", FULL)


@dataclass(frozen=True)
class Session:
    """Who is logged in, with what, since when; `csrf` guards this session's form posts."""

    user_id: int
    username: str
    roles: tuple[str, ...]
    unit_id: str | None
    stage: str
    created: float
    address: str
    csrf: str
    mfa: bool = False  # a second factor (TOTP, or SSO asserting MFA) was presented
    sid: str = ""  # the cookie value; never stored


def _key(sid: str) -> str:
    return "sess:" + hashlib.sha256(sid.encode()).hexdigest()


def _user_key(user_id: int) -> str:
    return f"sess:user:{user_id}"


class SessionStore:
    def __init__(self, r: redis.Redis, *, idle_s: int = 900, absolute_s: int = 8 * 3600,
                 clock: Callable[[], float] = time.time):
        if not 300 <= idle_s <= 1800:
            raise ValueError(f"SESSION_IDLE_MINUTES: expected 5 to 30 minutes, got {idle_s / 60:g}")
        self.r, self.idle_s, self.absolute_s, self.clock = r, idle_s, absolute_s, clock

    def create(self, *, user_id: int, username: str, roles: Iterable[str], unit_id: str | None, stage: str,
               address: str, mfa: bool = False, created: float | None = None) -> Session:
        """A new session under a new id; `created` carries over the absolute limit across stages."""
        if stage not in STAGES:
            raise ValueError(f"unknown session stage {stage!r}")
        s = Session(user_id=user_id, username=username, roles=tuple(sorted(roles)), unit_id=unit_id, stage=stage,
                    created=self.clock() if created is None else created, address=address,
                    csrf=secrets.token_urlsafe(24), mfa=mfa, sid=secrets.token_urlsafe(32))
        body = {k: v for k, v in asdict(s).items() if k != "sid"}
        ttl = self._ttl(s)
        if ttl <= 0:
            raise ValueError("the session's absolute lifetime is over")
        pipe = self.r.pipeline()
        pipe.set(_key(s.sid), json.dumps(body), ex=ttl)
        pipe.sadd(_user_key(user_id), _key(s.sid))
        pipe.expire(_user_key(user_id), self.absolute_s)
        pipe.execute()
        return s

    def advance(self, s: Session, stage: str, *, mfa: bool | None = None) -> Session:
        """The next login stage under a fresh id; the old id stops working."""
        self.end(s.sid)
        return self.create(user_id=s.user_id, username=s.username, roles=s.roles, unit_id=s.unit_id, stage=stage,
                           address=s.address, mfa=s.mfa if mfa is None else mfa, created=s.created)

    def get(self, sid: str | None, *, touch: bool = True) -> Session | None:
        """The live session for a cookie value, or None; each use restarts the idle clock."""
        if not sid or len(sid) > 128:
            return None
        raw = self.r.get(_key(sid))
        if raw is None:
            return None
        s = replace(Session(**json.loads(raw)), sid=sid)
        s = replace(s, roles=tuple(s.roles))
        ttl = self._ttl(s)
        if ttl <= 0:
            self.end(sid)
            return None
        if touch:
            self.r.expire(_key(sid), ttl)
        return s

    def _ttl(self, s: Session) -> int:
        return int(min(self.idle_s, s.created + self.absolute_s - self.clock()))

    def end(self, sid: str) -> None:
        raw = self.r.get(_key(sid))
        self.r.delete(_key(sid))
        if raw is not None:
            self.r.srem(_user_key(json.loads(raw)["user_id"]), _key(sid))

    def end_user(self, user_id: int) -> int:
        """End every session of an account (disabled, roles changed, password reset)."""
        keys = list(self.r.smembers(_user_key(user_id)))
        n = self.r.delete(*keys) if keys else 0
        self.r.delete(_user_key(user_id))
        return int(n)

    def alive(self, sids: Iterable[str]) -> dict[str, bool]:
        """Which of these cookie values still have a session (one round trip for the sweeper)."""
        sids = list(sids)
        pipe = self.r.pipeline(transaction=False)
        for sid in sids:
            pipe.exists(_key(sid))
        return {sid: bool(n) for sid, n in zip(sids, pipe.execute())}
