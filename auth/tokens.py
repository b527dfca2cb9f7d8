"""Display (wall) and source (ingest) tokens, and optional HMAC request signing against replay.

A wall shows nobody's password: an operator issues a display token and types its one-time pairing
code (10 characters, valid 24 h) on the wall, which trades it exactly once for a long-lived cookie
``ID.SECRET``. An ingest client gets a bearer ``cc_ID_SECRET`` bound to one system's stream; rotation
issues a successor while the old token keeps working for an overlap, so clients can be switched
without downtime. Codes and secrets are high-entropy random strings, so a fast digest is enough to
store them; the id is public (lists, audit) and never authenticates alone. Every change writes its
audit record in the same transaction, and no audit record holds a code or a secret.

Request signing (optional, for ingest), with three headers:

* ``X-CC-Timestamp``: unix seconds; accepted within ``SIGNATURE_WINDOW_S`` of the server's clock.
* ``X-CC-Nonce``: 16-64 characters of ``[A-Za-z0-9_-]``; each nonce is accepted once per token.
* ``X-CC-Signature``: hex HMAC-SHA256, keyed with the token's secret (the part after ``cc_ID_``), over
  ``METHOD\\npath\\ntimestamp\\nnonce\\nsha256hex(body)`` (see ``signing_string``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Connection, Engine, insert, or_, select, update

from auth import audit
from auth.audit import AuditEvent
from auth.crypto import CryptoBackend, hmac_equal
from warehouse.identity import auth_token

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # base32 without 0/1/O/I: nothing to misread on a wall
CODE_LEN = 10
PAIR_VALID = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=30)
SIGNATURE_WINDOW_S = 300
KINDS = ("display", "source")

_DISPLAY_SCOPE = re.compile(r"(playlist|screen):[a-z0-9][a-z0-9_-]{0,63}")
_SYSTEM = re.compile(r"[a-z][a-z0-9_]{0,31}")
_COOKIE = re.compile(r"([0-9a-f]{16})\.([A-Za-z0-9_-]{32,128})")
_BEARER = re.compile(r"cc_([0-9a-f]{16})_([A-Za-z0-9_-]{32,128})")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class TokenInfo:
    """What an operator may see of a token: never its secret or code."""

    id: str
    kind: str
    scope: str
    label: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    paired: bool  # a secret exists: a wall has paired (display) or always (source)


class TokenError(ValueError):
    """A refused token operation; the message is shown to the operator as it is."""


def _info(row: Mapping[str, Any]) -> TokenInfo:
    return TokenInfo(id=row["id"], kind=row["kind"], scope=row["scope"], label=row["label"],
                     created_by=row["created_by"], created_at=row["created_at"], expires_at=row["expires_at"],
                     revoked_at=row["revoked_at"], paired=row["secret_hash"] is not None)


def _normalize_code(code: object) -> str | None:
    """The code as stored (upper case, no dash or spaces), or None when it cannot be one of ours."""
    if not isinstance(code, str) or len(code) > 32:
        return None
    norm = re.sub(r"[\s-]", "", code).upper()
    ok = len(norm) == CODE_LEN and all(c in CODE_ALPHABET for c in norm)
    return norm if ok else None


def split_bearer(bearer: str | None) -> tuple[str, str] | None:
    """(id, secret) of a ``cc_ID_SECRET`` bearer, or None; the ingest side needs the secret to check signatures."""
    m = _BEARER.fullmatch(bearer) if isinstance(bearer, str) else None
    return (m.group(1), m.group(2)) if m else None


class Tokens:
    """Issue, pair, verify, rotate and revoke tokens, each change audited in its own transaction."""

    def __init__(self, engine: Engine, crypto: CryptoBackend, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), profile: str | None = None):
        self.engine, self.crypto, self.clock = engine, crypto, clock
        self.profile = profile or crypto.name  # the audit chain's digest follows the crypto profile

    # --- display tokens (walls) --------------------------------------------------------------------------
    def issue_display(self, actor: str, scope: str, label: str = "", *, address: str = "") -> tuple[TokenInfo, str]:
        """A new wall token and its one-time pairing code (``ABCDE-FGHJK``), to be typed on the wall within 24 h."""
        _check_actor_label(actor, label)
        if not isinstance(scope, str) or not _DISPLAY_SCOPE.fullmatch(scope):
            raise TokenError(f"scope {str(scope)[:80]!r}: expected playlist:NAME or screen:ID")
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LEN))
        now = self.clock()
        with audit.writer(self.engine) as conn:
            tid = self._insert(conn, "display", scope, label, actor, now, pair_code_hash=self._hash(code),
                               pair_expires_at=now + PAIR_VALID)
            self._audit(conn, actor, "token_issue", tid, now, address, kind="display", scope=scope, label=label)
            return self._info(conn, tid), f"{code[:5]}-{code[5:]}"

    def pair(self, code: str, *, address: str = "") -> tuple[TokenInfo, str] | None:
        """Trade a pairing code once for the wall cookie value ``ID.SECRET``; None (audited) for any bad code."""
        norm = _normalize_code(code)
        now = self.clock()
        with audit.writer(self.engine) as conn:
            row = None
            if norm is not None:
                h = self._hash(norm)
                row = conn.execute(select(auth_token).where(auth_token.c.pair_code_hash == h,
                                                            auth_token.c.kind == "display")).mappings().first()
            if row is not None:
                secret = secrets.token_urlsafe(32)
                t = auth_token.c
                done = conn.execute(update(auth_token).where(
                    t.id == row["id"], t.pair_code_hash == h, t.pair_expires_at > now, t.revoked_at.is_(None),
                ).values(pair_code_hash=None, pair_expires_at=None, secret_hash=self._hash(secret))).rowcount
                if done == 1:  # the conditional update is the lock: of two simultaneous pairings one wins
                    tid = row["id"]
                    self._audit(conn, f"token:{tid}", "wall_pair", tid, now, address, kind="display",
                                scope=row["scope"])
                    return self._info(conn, tid), f"{tid}.{secret}"
            if row is None:
                reason = "unknown or already used code"
            elif row["revoked_at"] is not None:
                reason = "token revoked"
            elif row["pair_expires_at"] is None or row["pair_expires_at"] <= now:
                reason = "code expired"
            else:
                reason = "code already used"
            obj = f"token:{row['id']}" if row is not None else ""
            audit.append(conn, AuditEvent(actor="anonymous", event="wall_pair", result="fail", object=obj,
                                          reason=reason, address=address), now=now, profile=self.profile)
        return None

    def verify_wall(self, cookie: str | None) -> TokenInfo | None:
        """The wall's token if the cookie is valid now; checked on every wall request and socket connect."""
        m = _COOKIE.fullmatch(cookie) if isinstance(cookie, str) else None
        return self._verify("display", m.group(1), m.group(2)) if m else None

    # --- source tokens (ingest) --------------------------------------------------------------------------
    def issue_source(self, actor: str, system: str, label: str = "", *, address: str = "") -> tuple[TokenInfo, str]:
        """A bearer token for one system's stream; the secret is shown once, only its digest is kept."""
        _check_actor_label(actor, label)
        scope = f"system:{_check_system(system)}"
        secret, now = secrets.token_urlsafe(32), self.clock()
        with audit.writer(self.engine) as conn:
            tid = self._insert(conn, "source", scope, label, actor, now, secret_hash=self._hash(secret))
            self._audit(conn, actor, "token_issue", tid, now, address, kind="source", scope=scope, label=label)
            return self._info(conn, tid), f"cc_{tid}_{secret}"

    def rotate_source(self, actor: str, token_id: str, *, overlap: timedelta = timedelta(hours=24),
                      address: str = "") -> tuple[TokenInfo, str]:
        """A successor with the same scope and label; the old token keeps working until now + overlap."""
        _check_actor_label(actor, "")
        if not timedelta(0) <= overlap <= MAX_OVERLAP:
            raise TokenError(f"overlap {overlap}: expected 0 to {MAX_OVERLAP.days} days")
        secret, now = secrets.token_urlsafe(32), self.clock()
        with audit.writer(self.engine) as conn:
            t = auth_token.c
            done = conn.execute(update(auth_token).where(
                t.id == token_id, t.kind == "source", t.revoked_at.is_(None), t.expires_at.is_(None),
            ).values(expires_at=now + overlap)).rowcount
            old = self._row(conn, token_id)
            if old is None or old["kind"] != "source":
                raise TokenError(f"unknown source token {str(token_id)[:40]!r}")
            if done != 1:  # nothing changed: say why (the transaction rolls back)
                if old["revoked_at"] is not None:
                    raise TokenError(f"token {token_id} is revoked; issue a new one")
                raise TokenError(f"token {token_id} was already rotated; rotate its successor")
            tid = self._insert(conn, "source", old["scope"], old["label"], actor, now, secret_hash=self._hash(secret))
            self._audit(conn, actor, "token_rotate", token_id, now, address, kind="source", scope=old["scope"],
                        successor=tid, old_expires_at=(now + overlap).isoformat())
            return self._info(conn, tid), f"cc_{tid}_{secret}"

    def verify_source(self, bearer: str | None) -> TokenInfo | None:
        """The source token if the bearer is valid now; the ingest endpoint then checks the scope."""
        parts = split_bearer(bearer)
        return self._verify("source", *parts) if parts else None

    # --- both kinds --------------------------------------------------------------------------------------
    def revoke(self, actor: str, token_id: str, *, address: str = "") -> TokenInfo:
        """Stop a token at once (walls are disconnected by the sweeper); revoking twice is harmless."""
        _check_actor_label(actor, "")
        now = self.clock()
        with audit.writer(self.engine) as conn:
            t = auth_token.c
            done = conn.execute(update(auth_token).where(t.id == token_id, t.revoked_at.is_(None))
                                .values(revoked_at=now)).rowcount  # a pairing code then fails as "token revoked"
            row = self._row(conn, token_id)
            if row is None:
                raise TokenError(f"unknown token {str(token_id)[:40]!r}")
            if done == 1:
                self._audit(conn, actor, "token_revoke", token_id, now, address, kind=row["kind"], scope=row["scope"])
            return _info(row)

    def revoked_since(self, ids: Iterable[str]) -> set[str]:
        """Which of these ids no longer authenticate (revoked, expired or unknown), in one query for the sweeper."""
        wanted = {i for i in ids if isinstance(i, str)}
        if not wanted:
            return set()
        now, t = self.clock(), auth_token.c
        with self.engine.connect() as conn:
            live = conn.execute(select(t.id).where(t.id.in_(wanted), t.revoked_at.is_(None),
                                                   or_(t.expires_at.is_(None), t.expires_at > now))).scalars()
            return wanted - set(live)

    def list(self, kind: str | None = None) -> list[TokenInfo]:
        """Tokens for the administration page, oldest first."""
        if kind is not None and kind not in KINDS:
            raise TokenError(f"kind {str(kind)[:40]!r}: expected display or source")
        q = select(auth_token).order_by(auth_token.c.created_at, auth_token.c.id)
        if kind is not None:
            q = q.where(auth_token.c.kind == kind)
        with self.engine.connect() as conn:
            return [_info(row) for row in conn.execute(q).mappings()]

    # --- internals ---------------------------------------------------------------------------------------
    def _hash(self, secret: str) -> str:
        """Keyed (HMAC with the key file's index key), so a copy of the database alone cannot test guesses
        of a pending 50-bit pairing code."""
        return self.crypto.index(secret, "auth_token")

    def _row(self, conn: Connection, token_id: str) -> Mapping[str, Any] | None:
        return conn.execute(select(auth_token).where(auth_token.c.id == token_id)).mappings().first()

    def _info(self, conn: Connection, token_id: str) -> TokenInfo:
        return _info(self._row(conn, token_id))  # type: ignore[arg-type]

    def _insert(self, conn: Connection, kind: str, scope: str, label: str, actor: str, now: datetime,
                **secret_columns: Any) -> str:
        tid = secrets.token_hex(8)
        conn.execute(insert(auth_token).values(id=tid, kind=kind, scope=scope, label=label, created_by=actor,
                                               created_at=now, **secret_columns))
        return tid

    def _audit(self, conn: Connection, actor: str, event: str, token_id: str, now: datetime, address: str,
               **detail: Any) -> None:
        audit.append(conn, AuditEvent(actor=actor, event=event, object=f"token:{token_id}", address=address,
                                      detail=detail), now=now, profile=self.profile)

    def _verify(self, kind: str, token_id: str, secret: str) -> TokenInfo | None:
        now = self.clock()
        with self.engine.connect() as conn:
            row = self._row(conn, token_id)
        if row is None or row["kind"] != kind or row["secret_hash"] is None:
            return None
        if not hmac_equal(self._hash(secret), row["secret_hash"]):
            return None
        if row["revoked_at"] is not None or (row["expires_at"] is not None and row["expires_at"] <= now):
            return None
        return _info(row)


def _check_actor_label(actor: str, label: str) -> None:
    if not isinstance(actor, str) or not 1 <= len(actor) <= 64:
        raise TokenError("actor: expected 1 to 64 characters")
    if not isinstance(label, str) or len(label) > 128:
        raise TokenError("label: at most 128 characters")


def _check_system(system: str) -> str:
    if not isinstance(system, str) or not _SYSTEM.fullmatch(system):
        raise TokenError(f"system {str(system)[:80]!r}: expected a lowercase letter, then up to 31 lowercase "
                         "letters, digits or '_'")
    return system


# --- request signing ---------------------------------------------------------------------------------------
def signing_string(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The canonical bytes both sides sign, so the method, path, time, nonce and body cannot be swapped."""
    return "\n".join((method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest())).encode()


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The X-CC-Signature value: hex HMAC-SHA256 keyed with the source token's secret."""
    return hmac.new(secret.encode(), signing_string(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


class SignatureChecker:
    """Verifies signed ingest requests; nonces live in Redis for twice the window, so a replay is refused."""

    def __init__(self, r: redis.Redis, *, window_s: int = SIGNATURE_WINDOW_S,
                 clock: Callable[[], float] = time.time):
        self.r, self.window_s, self.clock = r, window_s, clock

    def check(self, secret: str, token_id: str, method: str, path: str, timestamp: str, nonce: str, body: bytes,
              signature: str) -> str | None:
        """None for a fresh, correctly signed request; else why not. A nonce is claimed only after the
        signature verified, so forged requests cannot use up a client's nonces."""
        if not (isinstance(timestamp, str) and timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return "malformed timestamp"
        if abs(self.clock() - int(timestamp)) > self.window_s:
            return f"timestamp outside the {self.window_s} s window"
        if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
            return "malformed nonce"
        if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
            return "bad signature"
        expected = sign(secret, method, path, timestamp, nonce, body)
        if not hmac_equal(expected, signature.lower()):
            return "bad signature"
        if not self.r.set(f"sig:nonce:{token_id}:{nonce}", b"1", nx=True, ex=2 * self.window_s):
            return "replayed nonce"
        return None
