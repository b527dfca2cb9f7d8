"""A small but real OpenID provider for tests: discovery, JWKS, authorize, token, served over HTTP on 127.0.0.1.

Tests exercise ``auth.oidc`` against genuine HTTP, genuine signatures and genuine PKCE rather than mocks; public knobs
on ``Provider`` make it misbehave in exactly one way at a time so each client-side check can be proven to fire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import unquote, urlencode

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from werkzeug.serving import BaseWSGIServer, make_server

from auth.oidc import OidcConfig


def _pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def new_rsa_key() -> RSAKey:
    """A fresh RSA signing key with a random kid (generated with cryptography, wrapped as a JWK)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return RSAKey.import_key(_pem(key), {"kid": secrets.token_hex(8), "use": "sig", "alg": "RS256"})


def new_ec_key() -> ECKey:
    """A fresh P-256 signing key, to prove ES256 tokens are accepted too."""
    key = ec.generate_private_key(ec.SECP256R1())
    return ECKey.import_key(_pem(key), {"kid": secrets.token_hex(8), "use": "sig", "alg": "ES256"})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Provider:
    """Controllable OpenID provider. Knobs (reset per test by using a fresh instance):

    sign_with_other_key  sign with an unpublished key while claiming the published kid
    alg                  "RS256" (default), "ES256" (EC key published alongside) or "HS256" (keyed with client secret)
    alg_none             emit an unsigned ``alg: none`` token
    kid_override         put this kid in the token header
    audience_override    ``aud`` value (str or list) instead of client_id; ``azp`` sets the azp claim
    issuer_override      ``iss`` in the token; ``discovery_issuer_override`` is the issuer in discovery
    amr / acr            authentication methods / context class to assert
    exp_offset, iat_offset  seconds from now for ``exp`` and ``iat``
    nonce_override       ``nonce`` in the token instead of the one from /authorize
    error                make /authorize redirect back with ``error=<value>`` instead of a code
    """

    def __init__(
        self,
        client_id: str = "command-center",
        client_secret: str = "s3cret:with/odd chars",
        redirect_uri: str = "http://127.0.0.1:8050/auth/callback",
    ) -> None:
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri
        self.subject = "user-0042"
        self.profile: dict[str, Any] = {"name": "Zhang Wei", "email": "zhang.wei@example.gov.cn"}
        self.sign_with_other_key = False
        self.alg = "RS256"
        self.alg_none = False
        self.kid_override: str | None = None
        self.audience_override: str | list[str] | None = None
        self.azp: str | None = None
        self.issuer_override: str | None = None
        self.discovery_issuer_override: str | None = None
        self.amr: list[str] | None = None
        self.acr: str | None = None
        self.exp_offset = 300
        self.iat_offset = 0
        self.nonce_override: str | None = None
        self.error: str | None = None
        self.hits = {"discovery": 0, "jwks": 0, "authorize": 0, "token": 0}
        self.key = new_rsa_key()
        self.ec_key = new_ec_key()
        self._codes: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> Provider:
        """Serve on an ephemeral loopback port in a daemon thread."""
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="oidc-provider", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def issuer(self) -> str:
        """Base URL of the running provider (the OIDC issuer identifier)."""
        assert self._server is not None, "start() the provider first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def config(self, **overrides: Any) -> OidcConfig:
        """Client configuration matching this provider's registration."""
        values: dict[str, Any] = {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uri": self.redirect_uri,
        }
        return OidcConfig(**(values | overrides))

    def rotate_key(self) -> None:
        """Replace the RSA signing key (new kid); the old one is retired from the JWKS at once."""
        self.key = new_rsa_key()

    # -- token minting ---------------------------------------------------------------------------------------------

    def _id_token(self, grant: dict[str, str]) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer_override or self.issuer,
            "sub": self.subject,
            "aud": self.audience_override if self.audience_override is not None else grant["client_id"],
            "exp": now + self.exp_offset,
            "iat": now + self.iat_offset,
            "auth_time": now,
            "nonce": self.nonce_override if self.nonce_override is not None else grant["nonce"],
            **self.profile,
        }
        for name, value in (("azp", self.azp), ("amr", self.amr), ("acr", self.acr)):
            if value is not None:
                claims[name] = value
        if self.alg_none:
            header = {"alg": "none", "typ": "JWT"}
            return f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}."
        if self.alg == "HS256":  # the classic confusion attack: MAC keyed with a secret the client knows
            return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(self.client_secret), algorithms=["HS256"])
        signing = self.ec_key if self.alg == "ES256" else self.key
        kid = self.kid_override or signing.kid
        if self.sign_with_other_key:
            signing = new_ec_key() if self.alg == "ES256" else new_rsa_key()
        return jwt.encode({"alg": self.alg, "kid": kid}, claims, signing, algorithms=[self.alg])

    # -- HTTP ------------------------------------------------------------------------------------------------------

    def _client_authenticated(self) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except ValueError:
            return False
        return hmac.compare_digest(unquote(user), self.client_id) and hmac.compare_digest(
            unquote(password).encode(), self.client_secret.encode()
        )

    def _build_app(self) -> Flask:
        app = Flask("oidc_test_provider")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            self.hits["discovery"] += 1
            return jsonify(
                issuer=self.discovery_issuer_override or self.issuer,
                authorization_endpoint=f"{self.issuer}/authorize",
                token_endpoint=f"{self.issuer}/token",
                jwks_uri=f"{self.issuer}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256", "ES256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            self.hits["jwks"] += 1
            return jsonify(keys=[self.key.as_dict(private=False), self.ec_key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize() -> Any:
            self.hits["authorize"] += 1
            args = request.args
            if args.get("client_id") != self.client_id or args.get("redirect_uri") != self.redirect_uri:
                return jsonify(error="invalid_request", error_description="unknown client or redirect_uri"), 400
            state = args.get("state", "")
            if self.error:
                return redirect(f"{self.redirect_uri}?{urlencode({'error': self.error, 'state': state})}", 302)
            if args.get("response_type") != "code" or args.get("code_challenge_method") != "S256":
                return jsonify(error="invalid_request"), 400
            if "openid" not in args.get("scope", "").split() or not args.get("code_challenge"):
                return jsonify(error="invalid_request"), 400
            code = secrets.token_urlsafe(24)
            with self._lock:
                self._codes[code] = {
                    "client_id": args["client_id"],
                    "redirect_uri": args["redirect_uri"],
                    "nonce": args.get("nonce", ""),
                    "code_challenge": args["code_challenge"],
                }
            return redirect(f"{self.redirect_uri}?{urlencode({'code': code, 'state': state})}", 302)

        @app.post("/token")
        def token() -> Any:
            self.hits["token"] += 1
            if not self._client_authenticated():
                return jsonify(error="invalid_client"), 401, {"WWW-Authenticate": 'Basic realm="token"'}
            form = request.form
            if form.get("grant_type") != "authorization_code":
                return jsonify(error="unsupported_grant_type"), 400
            with self._lock:
                grant = self._codes.pop(form.get("code", ""), None)  # single use, even when the request fails
            if grant is None or grant["client_id"] != self.client_id:
                return jsonify(error="invalid_grant"), 400
            if form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify(error="invalid_grant", error_description="redirect_uri mismatch"), 400
            verifier = form.get("code_verifier", "")
            challenge = _b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
            if not (43 <= len(verifier) <= 128) or not hmac.compare_digest(challenge, grant["code_challenge"]):
                return jsonify(error="invalid_grant", error_description="PKCE verification failed"), 400
            body = {
                "access_token": secrets.token_urlsafe(32),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self._id_token(grant),
            }
            return jsonify(body), 200, {"Cache-Control": "no-store"}

        return app
