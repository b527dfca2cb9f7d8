"""Validate and XADD: the only way events enter the spine.

An event is *accepted* only when Redis returned its stream id; anything invalid lands in
the dead-letter stream with the reason, its origin and the raw payload, and the caller is
told why. When Redis is unreachable the producer raises `Unavailable` (an ingest answers
503): it never reports an accept it cannot prove.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import cast

import msgspec
import redis

from datasources.base import Event
from streams.codec import DEAD_LETTER, Codec, stream_of

log = logging.getLogger(__name__)

DEAD_LETTER_CAP = 1_000_000  # memory guard for the dead-letter stream only
RAW_KEEP_BYTES = 262_144  # what of an oversize payload is kept for a person to read




@dataclass(frozen=True)
class Accepted:
    stream: str
    id: str
    key: str


@dataclass(frozen=True)
class Rejected:
    reason: str
    dead_id: str


@dataclass(frozen=True)
class Refused:
    """An item already found invalid by the caller (e.g. the wrong system for an ingest token)."""

    raw: bytes
    reason: str

class Unavailable(RuntimeError):
    """Redis did not confirm the write, so the event is not reported accepted.

    At the instant Redis dies a write may still have reached its AOF; a sender that retries
    is safe because the warehouse dedupes by key. `confirmed` holds the outcomes of a batch's
    leading items that Redis did confirm, in order, so a sender resends only the rest.
    """

    def __init__(self, message: str, confirmed: Sequence[Accepted | Rejected] = ()):
        super().__init__(message)
        self.confirmed = list(confirmed)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Producer:
    def __init__(
        self,
        r: redis.Redis,
        codec: Codec,
        *,
        max_bytes: int = 65_536,
        max_past: dt.timedelta = dt.timedelta(days=30),
        max_future: dt.timedelta = dt.timedelta(minutes=5),
        clock: Callable[[], dt.datetime] = utcnow,
    ):
        self.r = r
        self.codec = codec
        self.max_bytes = max_bytes
        self.max_past = max_past
        self.max_future = max_future
        self.clock = clock

    def validate(self, raw: bytes | str) -> Event:
        """Decode and check one payload; raises ValueError with a message a person can act on."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        if len(raw) > self.max_bytes:
            raise ValueError(f"payload is {len(raw)} bytes, limit {self.max_bytes}")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"payload is not UTF-8 (byte {exc.start})") from None
        try:
            ev = self.codec.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(str(exc)) from None
        self.check_time(ev)
        return ev

    def check_time(self, ev: Event) -> None:
        now = self.clock()
        if ev.ts > now + self.max_future:
            raise ValueError(f"ts {ev.ts.isoformat()} is {(ev.ts - now).total_seconds():.0f} s in the future "
                             f"(limit {self.max_future.total_seconds():.0f} s)")
        if ev.ts < now - self.max_past:
            raise ValueError(f"ts {ev.ts.isoformat()} is {(now - ev.ts).days} days in the past "
                             f"(limit {self.max_past.days} days)")

    def checked(self, raw: bytes | str) -> Event | Refused:
        """One raw payload validated: the event, or why it is refused."""
        try:
            return self.validate(raw)
        except ValueError as exc:
            return Refused(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass"), str(exc))

    def submit_raw(self, raw: bytes | str, *, origin: str) -> Accepted | Rejected:
        """Validate one raw payload (ingest API, connectors) and accept or dead-letter it."""
        return self.submit_batch([self.checked(raw)], origin=origin)[0]

    def submit(self, events: Sequence[Event]) -> list[Accepted]:
        """XADD already-validated events in one pipeline (simulators, connectors after validate)."""
        return cast(list[Accepted], self.submit_batch(events, origin=""))

    def submit_batch(self, items: Sequence[Event | Refused], *, origin: str, system: str = ""
                     ) -> list[Accepted | Rejected]:
        """Accept the events and dead-letter the refused items in one pipeline, in their order.

        One round trip per batch instead of one per item. Redis runs the commands in order, so when a
        command fails (connection lost, out of memory) the outcomes before it are confirmed and are
        handed to the caller in `Unavailable.confirmed`; anything after it is reported as not accepted.
        """
        if not items:
            return []
        encode = self.codec.encode
        at = self.clock().isoformat()
        try:
            with self.r.pipeline(transaction=False) as p:
                for item in items:
                    if isinstance(item, Refused):
                        p.xadd(DEAD_LETTER, self._dead_fields(item.raw, item.reason, origin, system, at),
                               maxlen=DEAD_LETTER_CAP, approximate=True)
                    else:
                        p.xadd(stream_of(item.system), {b"e": encode(item)})
                replies = p.execute(raise_on_error=False)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise Unavailable(f"Redis did not confirm the write: {exc}") from exc
        out: list[Accepted | Rejected] = []
        for item, reply in zip(items, replies):
            if isinstance(reply, Exception):
                raise Unavailable(f"Redis refused the write: {reply}", out)
            entry = reply.decode() if isinstance(reply, bytes) else reply
            if isinstance(item, Refused):
                log.info("dead-lettered from %s: %s", origin, item.reason)
                out.append(Rejected(item.reason, entry))
            else:
                out.append(Accepted(stream_of(item.system), entry, item.key))
        return out

    def dead_letter(self, raw: bytes | str, reason: str, *, origin: str, system: str = "") -> str:
        """Keep a rejected payload with its reason so nothing offered to us is silently dropped."""
        body = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
        return cast(Rejected, self.submit_batch([Refused(body, reason)], origin=origin, system=system)[0]).dead_id

    @staticmethod
    def _dead_fields(body: bytes, reason: str, origin: str, system: str, at: str) -> dict[str, str | bytes]:
        note = ""
        if len(body) > RAW_KEEP_BYTES:
            note = f" (raw payload truncated from {len(body)} bytes)"
            body = body[:RAW_KEEP_BYTES]
        return {"reason": reason + note, "origin": origin, "system": system, "raw": body, "at": at}
