"""POST /api/v1/ingest/<system>: how external systems put events on the spine, with a source token.

The body (``application/json``) is one event object or an array of them. Each item is validated on its
own: an item that is valid is accepted, one that is not is dead-lettered with its reason, so a batch can
partly succeed; the whole batch is then written to Redis in one pipeline, in order. The answer is 200
``{"accepted", "rejected": [{"index", "reason"}], "ids"}``. A token writes only its own system, both in
the URL and in every item's schema, so a leaked canteen token cannot forge security alarms.

Refusals, each a JSON ``{"error": ...}``:

* 401: no valid token (from the guard), or a bad signature (audited as ``ingest_signature``);
* 403: the token belongs to another system (audited as ``access_denied``);
* 404: no such system; 415: not ``application/json``;
* 400: malformed JSON, an empty batch, or a body that is neither an object nor an array;
* 413: a body over ``max_body`` bytes or a batch over ``max_items`` events (nothing accepted);
* 429 with ``Retry-After``: the token's rate (events/s, token bucket in Redis) is used up; nothing accepted.
  A batch bigger than ``burst`` can never pass: the message says to split it;
* 503 with ``Retry-After: 5``: Redis did not confirm a write. Items are handled in order and the
  handling stops at the failure: the body's ``accepted``/``ids``/``rejected`` cover the first
  ``processed`` items (confirmed by Redis), so the sender resends ``items[processed:]``. Resending
  more is also safe: the warehouse dedupes by key.

Signing (auth/tokens.py): checked when ``require_signature`` is set or whenever the request carries
``X-CC-Signature``, so a client can start signing before the server demands it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import msgspec
import redis
from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from auth.tokens import SignatureChecker, split_bearer
from auth.web import AuthContext
from datasources.base import Event
from streams.producer import Accepted, Producer, Refused, Rejected, Unavailable

log = logging.getLogger(__name__)
RETRY_UNAVAILABLE_S = 5

# Token bucket in one script, so concurrent requests of one token (several web processes) cannot both
# spend the same events. Redis' own clock: web processes' clocks may differ. Returns {ok, seconds to wait}.
_BUCKET = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(s[1]) or burst
local last = tonumber(s[2]) or now
level = math.min(burst, level + math.max(0, now - last) * rate)
if cost > level then
  return {0, tostring((cost - level) / rate)}
end
redis.call('HSET', KEYS[1], 'level', tostring(level - cost), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {1, '0'}
"""


def _error(status: int, message: str, **extra: Any) -> Response:
    resp = jsonify({"error": message, **extra})
    resp.status_code = status
    return resp


def ingest_blueprint(producer: Producer, ctx: AuthContext, r: redis.Redis, *, require_signature: bool = False,
                     rate_per_s: float = 2000.0, burst: int = 4000, max_items: int = 1000,
                     max_body: int = 1_048_576) -> Blueprint:
    """The ingest endpoint; `r` holds the rate buckets and the signature nonces."""
    if rate_per_s <= 0 or burst < 1 or max_items < 1 or max_body < 1:
        raise ValueError("rate_per_s, burst, max_items and max_body must be positive")
    bp = Blueprint("ingest", __name__)
    systems = frozenset(producer.codec.systems)  # what the producer can decode is what may be sent
    checker = SignatureChecker(r)
    bucket = r.register_script(_BUCKET)

    def signature_problem(token_id: str, body: bytes) -> str | None:
        signature = request.headers.get("X-CC-Signature")
        if signature is None and not require_signature:
            return None
        if signature is None:
            return "this endpoint requires signed requests (X-CC-Signature)"
        parts = split_bearer(request.headers.get("Authorization", "")[7:].strip())
        if parts is None or parts[0] != token_id:
            return "malformed bearer token"
        return checker.check(parts[1], token_id, request.method, request.path,
                             request.headers.get("X-CC-Timestamp", ""), request.headers.get("X-CC-Nonce", ""),
                             body, signature)

    def wait_for(token_id: str, cost: int) -> float:
        """Seconds until `cost` events fit in the token's bucket; 0 means they were taken now."""
        ok, wait = bucket(keys=[f"ingest:bucket:{token_id}"], args=[rate_per_s, burst, cost])
        return 0.0 if int(ok) == 1 else float(wait)

    @bp.post("/api/v1/ingest/<system>", endpoint="submit")
    def submit(system: str) -> Response:
        who = g.principal
        if who.kind != "source" or who.scope != f"system:{system}":
            ctx.audit("access_denied", result="denied", obj=f"POST {request.path}"[:255],
                      reason=f"token scope {who.scope or who.kind} cannot write {system[:40]}")
            return _error(403, f"this token may not write to {system[:40]!r}")
        if system not in systems:
            return _error(404, f"unknown system {system[:40]!r}")
        if request.mimetype != "application/json":
            return _error(415, "send the events as application/json")
        token_id = who.name
        request.max_content_length = max_body
        try:
            body = request.get_data(cache=True)
        except RequestEntityTooLarge:
            return _error(413, f"body over {max_body} bytes")
        try:
            problem = signature_problem(token_id, body)
        except (redis.ConnectionError, redis.TimeoutError):
            return unavailable("Redis unreachable", 0, [], [])
        if problem is not None:
            ctx.audit("ingest_signature", result="denied", obj=f"token:{token_id}", reason=problem)
            return _error(401, problem)
        try:
            doc = msgspec.json.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return _error(400, f"malformed JSON: {exc}")
        items = doc if isinstance(doc, list) else [doc] if isinstance(doc, dict) else None
        if items is None:
            return _error(400, "expected an event object or an array of event objects")
        if not items:
            return _error(400, "empty batch")
        if len(items) > max_items:
            return _error(413, f"batch of {len(items)} events; at most {max_items} per request")
        try:
            wait = wait_for(token_id, len(items))
        except (redis.ConnectionError, redis.TimeoutError):
            return unavailable("Redis unreachable", 0, [], [])
        if wait > 0:
            if len(items) > burst:
                msg = f"batch of {len(items)} events exceeds this token's burst of {burst}; split it"
            else:
                msg = f"rate limit of {rate_per_s:g} events/s for this token"
            resp = _error(429, msg)
            resp.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return resp
        return submit_items(system, token_id, items)

    def submit_items(system: str, token_id: str, items: list[Any]) -> Response:
        origin, prefix = f"ingest:{token_id}", f"{system}."
        checked: list[Event | Refused] = []
        for item in items:
            raw = msgspec.json.encode(item)  # compact bytes: what the producer validates and keeps
            schema = item.get("schema") if isinstance(item, dict) else None
            if not isinstance(item, dict):
                checked.append(Refused(raw, "not a JSON object"))
            elif not (isinstance(schema, str) and schema.startswith(prefix)):
                reason = f"schema {str(schema)[:80]!r} is not a {system} event (expected {prefix}*)"
                checked.append(Refused(raw, reason))
            else:
                checked.append(producer.checked(raw))
        try:
            outcomes = producer.submit_batch(checked, origin=origin, system=system)
        except Unavailable as exc:
            log.warning("ingest %s stopped at item %d of %d: %s", origin, len(exc.confirmed), len(items), exc)
            return unavailable("Redis did not confirm the write; resend from item `processed`", exc.confirmed)
        return jsonify(_outcome_body(outcomes))

    def unavailable(message: str, confirmed: list[Accepted | Rejected]) -> Response:
        """503 saying exactly what Redis confirmed, so the sender neither loses nor double-counts events."""
        resp = _error(503, message, processed=len(confirmed), **_outcome_body(confirmed))
        resp.headers["Retry-After"] = str(RETRY_UNAVAILABLE_S)
        return resp

    return bp


def _outcome_body(outcomes: list[Accepted | Rejected]) -> dict[str, Any]:
    ids = [o.id for o in outcomes if isinstance(o, Accepted)]
    rejected = [{"index": i, "reason": o.reason} for i, o in enumerate(outcomes) if isinstance(o, Rejected)]
    return {"accepted": len(ids), "rejected": rejected, "ids": ids}
