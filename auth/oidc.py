"""OpenID Connect client (authorization code + PKCE) for single sign-on; any standard IdP (government, DingTalk,
Keycloak...) plugs in through ``OidcConfig``. Framework-free so the web layer only stores a ``PendingLogin`` in the
pre-login session, redirects to ``begin()``'s URL and hands the callback query parameters to ``finish()``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

ALLOWED_ALGS = ("RS256", "ES256")  # asymmetric only: "none" and HS256 (keyed with a public secret) are refused
PENDING_MAX_AGE_S = 600
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _check_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise ValueError(f"{what} must be https (plain http only on loopback for tests): {url!r}")


@dataclass(frozen=True)
class OidcConfig:
    """Everything provider specific, so switching IdP is a configuration change rather than a code change."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    mfa_values: tuple[str, ...] = ("mfa", "otp", "hwk", "sms", "swk")
    mfa_acr: tuple[str, ...] = ()
    timeout_s: float = 5.0
    leeway_s: int = 60

    def __post_init__(self) -> None:
        _check_url(self.issuer, "issuer")
        if not self.client_id or "openid" not in self.scopes:
            raise ValueError("client_id is required and scopes must contain 'openid'")


@dataclass(frozen=True)
class PendingLogin:
    """Per-attempt secrets kept server-side between redirect and callback; they bind the callback to this browser."""

    state: str
    nonce: str
    code_verifier: str
    created_at: float


@dataclass(frozen=True)
class OidcIdentity:
    """The verified result of a login; ``claims`` is read-only so the web layer cannot alter what the IdP asserted."""

    issuer: str
    subject: str
    name: str | None
    email: str | None
    mfa: bool
    claims: Mapping[str, Any]


class OidcError(Exception):
    """A refused login. The message never contains tokens or secrets, so it is safe to log; ``reason`` is a short
    machine code (provider, state, expired, token_endpoint, discovery, jwks, signature, issuer, audience, nonce,
    replay, claims) for metrics and audit records."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class _MemoryNonceStore:
    """Fallback replay cache. SINGLE-PROCESS ONLY: with several workers each has its own set, so production must pass
    ``nonce_seen`` backed by a shared store (Redis SET NX EX). Bounded: the oldest entries are dropped first."""

    def __init__(self, clock: Callable[[], float], max_entries: int = 10_000) -> None:
        self._clock, self._max = clock, max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, nonce: str, ttl_seconds: int) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) <= now or len(self._seen) >= self._max):
                self._seen.popitem(last=False)  # insertion order ~ expiry order (TTLs are similar)
            if self._seen.get(nonce, 0) > now:
                return True
            self._seen[nonce] = now + ttl_seconds
            return False


def _b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


class OidcClient:
    """One instance per configured provider, shared by all requests: it caches discovery and JWKS (thread-safe)."""

    def __init__(
        self,
        config: OidcConfig,
        *,
        clock: Callable[[], float] = time.time,
        nonce_seen: Callable[[str, int], bool] | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._nonce_seen = nonce_seen or _MemoryNonceStore(clock)
        self._lock = threading.Lock()
        self._discovery: dict[str, Any] | None = None
        self._jwks: KeySet | None = None

    def begin(self) -> tuple[str, PendingLogin]:
        """Build the authorization URL; the caller must keep the returned ``PendingLogin`` server-side."""
        cfg, token = self.config, secrets.token_urlsafe  # a 64-byte verifier is 86 chars: RFC 7636 wants 43..128
        pending = PendingLogin(state=token(32), nonce=token(32), code_verifier=token(64), created_at=self._clock())
        query = dict(response_type="code", client_id=cfg.client_id, redirect_uri=cfg.redirect_uri,
                     scope=" ".join(cfg.scopes), state=pending.state, nonce=pending.nonce,
                     code_challenge=_b64url_sha256(pending.code_verifier), code_challenge_method="S256")
        endpoint = self._metadata()["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}", pending

    def finish(self, pending: PendingLogin, params: Mapping[str, str]) -> OidcIdentity:
        """Validate the callback, redeem the code and verify the ID token; raise ``OidcError`` on any doubt."""
        if "error" in params:
            code = re.sub(r"[^A-Za-z0-9_.-]", "?", str(params["error"]))[:64]  # attacker-controlled: keep it tame
            raise OidcError(f"provider: {code}", "provider")
        if not hmac.compare_digest(str(params.get("state", "")).encode(), pending.state.encode()):
            raise OidcError("state mismatch", "state")
        if self._clock() - pending.created_at > PENDING_MAX_AGE_S:
            raise OidcError("login attempt older than 10 minutes", "expired")
        if not params.get("code"):
            raise OidcError("callback without code", "provider")
        return self._identity(self._verify_id_token(self._redeem(params["code"], pending.code_verifier), pending.nonce))

    def _get_json(self, url: str, reason: str) -> dict[str, Any]:
        try:
            resp = requests.get(url, timeout=self.config.timeout_s, headers={"Accept": "application/json"})
            resp.raise_for_status()
            doc = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise OidcError(f"{reason} fetch failed: {type(exc).__name__}", reason) from None
        if not isinstance(doc, dict):
            raise OidcError(f"{reason} document is not a JSON object", reason)
        return doc

    def _metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._discovery is None:
                doc = self._get_json(self.config.issuer + "/.well-known/openid-configuration", "discovery")
                if doc.get("issuer") != self.config.issuer:
                    raise OidcError("discovery issuer differs from configured issuer", "issuer")
                try:
                    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                        _check_url(str(doc[key]), key)
                except (KeyError, ValueError) as exc:
                    raise OidcError(f"discovery document unusable: {exc}", "discovery") from None
                self._discovery = doc
            return self._discovery

    def _keys(self, refresh: bool = False) -> KeySet:
        jwks_uri = self._metadata()["jwks_uri"]
        with self._lock:
            if self._jwks is None or refresh:
                try:
                    self._jwks = KeySet.import_key_set(self._get_json(jwks_uri, "jwks"))  # type: ignore[arg-type]
                except (JoseError, KeyError, TypeError, ValueError) as exc:
                    raise OidcError(f"jwks unusable: {type(exc).__name__}", "jwks") from None
            return self._jwks

    def _redeem(self, code: str, verifier: str) -> str:
        cfg = self.config  # client_secret_basic; RFC 6749 section 2.3.1 form-encodes id and secret before base64
        cred = base64.b64encode(f"{quote(cfg.client_id, safe='')}:{quote(cfg.client_secret, safe='')}".encode())
        form = dict(grant_type="authorization_code", code=code, redirect_uri=cfg.redirect_uri, code_verifier=verifier)
        headers = {"Authorization": f"Basic {cred.decode()}", "Accept": "application/json"}
        try:
            url = self._metadata()["token_endpoint"]
            resp = requests.post(url, data=form, headers=headers, timeout=cfg.timeout_s, allow_redirects=False)
        except requests.RequestException as exc:
            raise OidcError(f"token endpoint unreachable: {type(exc).__name__}", "token_endpoint") from None
        if resp.status_code != 200:
            raise OidcError(f"token endpoint answered HTTP {resp.status_code}", "token_endpoint")
        try:
            id_token = resp.json().get("id_token")
        except (ValueError, AttributeError):
            id_token = None
        if not isinstance(id_token, str):
            raise OidcError("token response without id_token", "token_endpoint")
        return id_token

    def _verify_id_token(self, id_token: str, expected_nonce: str) -> dict[str, Any]:
        try:
            header = jws.extract_compact(id_token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError):
            raise OidcError("id_token is not a compact JWS", "signature") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGS:
            raise OidcError(f"id_token algorithm refused: {str(alg)[:16]}", "signature")
        key = self._find_key(self._keys(), kid, alg)
        if key is None:  # unknown kid: the provider may have rotated its keys, refetch exactly once
            key = self._find_key(self._keys(refresh=True), kid, alg)
        if key is None:
            raise OidcError("no JWKS key matches the id_token", "signature")
        try:
            claims = jwt.decode(id_token, key, algorithms=[alg]).claims
        except (JoseError, ValueError):
            raise OidcError("id_token signature invalid", "signature") from None
        self._check_claims(claims, expected_nonce)
        return claims

    @staticmethod
    def _find_key(keys: KeySet, kid: Any, alg: str) -> Any:
        kty = "RSA" if alg.startswith("RS") else "EC"
        matches = [k for k in keys if k.key_type == kty and k.get("use") in (None, "sig") and kid in (None, k.kid)]
        return matches[0] if len(matches) == 1 else None  # without kid, only an unambiguous key is acceptable

    def _check_claims(self, claims: dict[str, Any], expected_nonce: str) -> None:
        cfg, now = self.config, self._clock()
        if claims.get("iss") != cfg.issuer:
            raise OidcError("id_token issuer mismatch", "issuer")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if cfg.client_id not in audiences:
            raise OidcError("id_token audience does not include this client", "audience")
        if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != cfg.client_id:
            raise OidcError("id_token azp is not this client", "audience")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat)):
            raise OidcError("id_token exp/iat missing or not numeric", "claims")
        if exp + cfg.leeway_s <= now:
            raise OidcError("id_token expired", "expired")
        if iat - cfg.leeway_s > now:
            raise OidcError("id_token issued in the future", "expired")
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), expected_nonce.encode()):
            raise OidcError("id_token nonce mismatch", "nonce")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise OidcError("id_token without subject", "claims")
        ttl = int(max(PENDING_MAX_AGE_S, exp - now) + cfg.leeway_s)  # as long as the token could still be accepted
        if self._nonce_seen(nonce, ttl):
            raise OidcError("id_token nonce already used", "replay")

    def _identity(self, claims: dict[str, Any]) -> OidcIdentity:
        amr = claims.get("amr")
        amr_values = [v for v in amr if isinstance(v, str)] if isinstance(amr, list) else []
        mfa = any(v in self.config.mfa_values for v in amr_values) or claims.get("acr") in self.config.mfa_acr
        name, email = claims.get("name"), claims.get("email")
        if claims.get("email_verified") is False:  # an unverified address must not be usable to match accounts
            email = None
        return OidcIdentity(
            issuer=claims["iss"],
            subject=claims["sub"],
            name=name if isinstance(name, str) else None,
            email=email if isinstance(email, str) else None,
            mfa=bool(mfa),
            claims=MappingProxyType(dict(claims)),
        )
