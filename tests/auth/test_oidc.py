"""OIDC client against a real local provider over HTTP: the happy path, every refusal reason, and key rotation."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from auth.oidc import OidcClient, OidcConfig, OidcError, OidcIdentity, PendingLogin
from tests.auth.oidc_provider import Provider


@pytest.fixture
def oidc_provider() -> Iterator[Provider]:
    provider = Provider().start()
    try:
        yield provider
    finally:
        provider.stop()


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def authorize(url: str) -> dict[str, str]:
    """Play the browser: hit the authorization endpoint and read the redirect back to the client."""
    resp = requests.get(url, allow_redirects=False, timeout=5)
    assert resp.status_code == 302, resp.text
    return _query(resp.headers["Location"])


def login(client: OidcClient, tamper: Callable[[PendingLogin], PendingLogin] | None = None) -> OidcIdentity:
    url, pending = client.begin()
    params = authorize(url)
    return client.finish(tamper(pending) if tamper else pending, params)


def expect_refusal(
    reason: str, client: OidcClient, tamper: Callable[[PendingLogin], PendingLogin] | None = None
) -> OidcError:
    with pytest.raises(OidcError) as info:
        login(client, tamper)
    assert info.value.reason == reason, f"{info.value.reason}: {info.value}"
    return info.value


# -- happy path ------------------------------------------------------------------------------------------------------


def test_authorization_url_carries_pkce_state_nonce_and_scope(oidc_provider: Provider) -> None:
    url, pending = OidcClient(oidc_provider.config()).begin()
    assert url.startswith(f"{oidc_provider.issuer}/authorize?")
    q = _query(url)
    assert q["response_type"] == "code"
    assert q["client_id"] == oidc_provider.client_id
    assert q["redirect_uri"] == oidc_provider.redirect_uri
    assert q["code_challenge_method"] == "S256"
    digest = hashlib.sha256(pending.code_verifier.encode("ascii")).digest()
    assert q["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(pending.code_verifier) <= 128
    assert q["state"] == pending.state and q["nonce"] == pending.nonce
    assert "openid" in q["scope"].split()
    assert pending.created_at == pytest.approx(time.time(), abs=5)


def test_login_yields_identity_without_mfa(oidc_provider: Provider) -> None:
    identity = login(OidcClient(oidc_provider.config()))
    assert identity.issuer == oidc_provider.issuer
    assert identity.subject == "user-0042"
    assert identity.name == "Zhang Wei"
    assert identity.email == "zhang.wei@example.gov.cn"
    assert identity.mfa is False
    assert identity.claims["aud"] == oidc_provider.client_id
    with pytest.raises(TypeError):
        identity.claims["sub"] = "someone-else"  # type: ignore[index]


def test_mfa_from_amr(oidc_provider: Provider) -> None:
    oidc_provider.amr = ["pwd", "otp"]
    assert login(OidcClient(oidc_provider.config())).mfa is True


def test_mfa_from_configured_acr(oidc_provider: Provider) -> None:
    oidc_provider.amr = ["pwd"]
    oidc_provider.acr = "urn:gov:loa:high"
    assert login(OidcClient(oidc_provider.config())).mfa is False
    assert login(OidcClient(oidc_provider.config(mfa_acr=("urn:gov:loa:high",)))).mfa is True


def test_es256_tokens_are_accepted(oidc_provider: Provider) -> None:
    oidc_provider.alg = "ES256"
    assert login(OidcClient(oidc_provider.config())).subject == "user-0042"


def test_multiple_audiences_accepted_when_azp_is_us(oidc_provider: Provider) -> None:
    oidc_provider.audience_override = [oidc_provider.client_id, "another-rp"]
    oidc_provider.azp = oidc_provider.client_id
    assert login(OidcClient(oidc_provider.config())).subject == "user-0042"


def test_unverified_email_is_withheld(oidc_provider: Provider) -> None:
    oidc_provider.profile["email_verified"] = False
    assert login(OidcClient(oidc_provider.config())).email is None


def test_discovery_and_jwks_are_cached(oidc_provider: Provider) -> None:
    client = OidcClient(oidc_provider.config())
    for _ in range(3):
        login(client)
    assert oidc_provider.hits["discovery"] == 1
    assert oidc_provider.hits["jwks"] == 1


def test_key_rotation_refetches_jwks_once(oidc_provider: Provider) -> None:
    client = OidcClient(oidc_provider.config())
    login(client)
    oidc_provider.rotate_key()
    assert login(client).subject == "user-0042"
    assert oidc_provider.hits["jwks"] == 2
    login(client)
    assert oidc_provider.hits["jwks"] == 2


# -- refusals: signature ---------------------------------------------------------------------------------------------


def test_signature_by_another_key(oidc_provider: Provider) -> None:
    oidc_provider.sign_with_other_key = True
    expect_refusal("signature", OidcClient(oidc_provider.config()))


def test_alg_none(oidc_provider: Provider) -> None:
    oidc_provider.alg_none = True
    expect_refusal("signature", OidcClient(oidc_provider.config()))


def test_hs256_keyed_with_client_secret(oidc_provider: Provider) -> None:
    oidc_provider.alg = "HS256"
    expect_refusal("signature", OidcClient(oidc_provider.config()))


def test_unknown_kid_refetches_only_once(oidc_provider: Provider) -> None:
    oidc_provider.kid_override = "not-published"
    expect_refusal("signature", OidcClient(oidc_provider.config()))
    assert oidc_provider.hits["jwks"] == 2


# -- refusals: claims ------------------------------------------------------------------------------------------------


def test_wrong_audience(oidc_provider: Provider) -> None:
    oidc_provider.audience_override = "some-other-client"
    expect_refusal("audience", OidcClient(oidc_provider.config()))


def test_multiple_audiences_without_azp(oidc_provider: Provider) -> None:
    oidc_provider.audience_override = [oidc_provider.client_id, "another-rp"]
    expect_refusal("audience", OidcClient(oidc_provider.config()))


def test_wrong_issuer_in_token(oidc_provider: Provider) -> None:
    oidc_provider.issuer_override = "https://evil.example.com"
    expect_refusal("issuer", OidcClient(oidc_provider.config()))


def test_discovery_issuer_mismatch(oidc_provider: Provider) -> None:
    oidc_provider.discovery_issuer_override = oidc_provider.issuer + "/"
    with pytest.raises(OidcError) as info:
        OidcClient(oidc_provider.config()).begin()
    assert info.value.reason == "issuer"


def test_expired_token(oidc_provider: Provider) -> None:
    oidc_provider.exp_offset = -120  # beyond the 60 s leeway
    expect_refusal("expired", OidcClient(oidc_provider.config()))


def test_token_issued_in_the_future(oidc_provider: Provider) -> None:
    oidc_provider.iat_offset = 600
    oidc_provider.exp_offset = 900
    expect_refusal("expired", OidcClient(oidc_provider.config()))


def test_wrong_nonce(oidc_provider: Provider) -> None:
    oidc_provider.nonce_override = "nonce-from-another-login"
    expect_refusal("nonce", OidcClient(oidc_provider.config()))


# -- refusals: callback and session binding --------------------------------------------------------------------------


def test_wrong_state(oidc_provider: Provider) -> None:
    expect_refusal("state", OidcClient(oidc_provider.config()), lambda p: dataclasses.replace(p, state="forged"))


def test_missing_state(oidc_provider: Provider) -> None:
    client = OidcClient(oidc_provider.config())
    url, pending = client.begin()
    params = authorize(url)
    del params["state"]
    with pytest.raises(OidcError) as info:
        client.finish(pending, params)
    assert info.value.reason == "state"


def test_provider_error_param(oidc_provider: Provider) -> None:
    oidc_provider.error = "access_denied"
    err = expect_refusal("provider", OidcClient(oidc_provider.config()))
    assert str(err) == "provider: access_denied"
    assert oidc_provider.hits["token"] == 0


def test_pending_older_than_ten_minutes(oidc_provider: Provider) -> None:
    now = [time.time()]
    client = OidcClient(oidc_provider.config(), clock=lambda: now[0])
    url, pending = client.begin()
    params = authorize(url)
    now[0] += 601
    with pytest.raises(OidcError) as info:
        client.finish(pending, params)
    assert info.value.reason == "expired"
    assert oidc_provider.hits["token"] == 0  # refused before the code is redeemed


def test_replayed_nonce_with_default_store(oidc_provider: Provider) -> None:
    client = OidcClient(oidc_provider.config())
    url, pending = client.begin()
    first, second = authorize(url), authorize(url)  # two codes minted for the same authorization request
    assert client.finish(pending, first).subject == "user-0042"
    with pytest.raises(OidcError) as info:
        client.finish(pending, second)
    assert info.value.reason == "replay"


def test_replayed_nonce_with_shared_store_callback(oidc_provider: Provider) -> None:
    store: dict[str, int] = {}  # stands in for Redis SET NX EX, shared by two "workers"

    def nonce_seen(nonce: str, ttl_seconds: int) -> bool:
        assert ttl_seconds >= 600
        if nonce in store:
            return True
        store[nonce] = ttl_seconds
        return False

    worker_a = OidcClient(oidc_provider.config(), nonce_seen=nonce_seen)
    worker_b = OidcClient(oidc_provider.config(), nonce_seen=nonce_seen)
    url, pending = worker_a.begin()
    first, second = authorize(url), authorize(url)
    worker_a.finish(pending, first)
    with pytest.raises(OidcError) as info:
        worker_b.finish(pending, second)
    assert info.value.reason == "replay"
    assert list(store) == [pending.nonce]


def test_same_code_twice_is_refused_by_provider(oidc_provider: Provider) -> None:
    client = OidcClient(oidc_provider.config())
    url, pending = client.begin()
    params = authorize(url)
    client.finish(pending, params)
    with pytest.raises(OidcError) as info:
        client.finish(pending, params)
    assert info.value.reason == "token_endpoint"


def test_wrong_client_secret(oidc_provider: Provider) -> None:
    err = expect_refusal("token_endpoint", OidcClient(oidc_provider.config(client_secret="wrong")))
    assert "401" in str(err) and "wrong" not in str(err)


def test_pkce_verifier_mismatch(oidc_provider: Provider) -> None:
    def tamper(p: PendingLogin) -> PendingLogin:
        return dataclasses.replace(p, code_verifier=p.code_verifier[::-1])

    expect_refusal("token_endpoint", OidcClient(oidc_provider.config()), tamper)


def test_discovery_unreachable() -> None:
    provider = Provider().start()
    config = provider.config(timeout_s=1.0)
    provider.stop()
    with pytest.raises(OidcError) as info:
        OidcClient(config).begin()
    assert info.value.reason == "discovery"


def test_config_refuses_plain_http_outside_loopback() -> None:
    with pytest.raises(ValueError):
        OidcConfig(issuer="http://idp.example.gov.cn", client_id="x", client_secret="y", redirect_uri="https://a/cb")


def test_secret_not_in_repr(oidc_provider: Provider) -> None:
    assert oidc_provider.client_secret not in repr(oidc_provider.config())
