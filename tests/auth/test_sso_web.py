"""Single sign-on through the built web app: Flask's test client as the browser, the real local OpenID provider
over HTTP, real Redis and SQLite. Covers linked sign-in, refusals (unlinked, disabled, replay, audience, state),
the administrators' second factor with and without an MFA assertion, and the operator's link commands."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import requests
from sqlalchemy import select, update

from auth.accounts import AccountError
from auth.sso_web import link_identity, redis_nonce_seen, unlink_identity
from auth.web import STAGE_PAGES, AuthContext
from tests.auth.conftest import build_app, free_port
from tests.auth.oidc_provider import Provider
from warehouse.identity import auth_audit, auth_user


@pytest.fixture(scope="module")
def sso_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, AuthContext, Provider]]:
    """The real app (create_web) configured for single sign-on against the local provider."""
    port = free_port()
    provider = Provider(redirect_uri=f"http://127.0.0.1:{port}/login/sso/callback").start()
    server = build_app(tmp_path_factory.mktemp("sso_web"), port, OIDC_ISSUER=provider.issuer,
                       OIDC_CLIENT_ID=provider.client_id, OIDC_CLIENT_SECRET=provider.client_secret)
    try:
        yield server, server.extensions["cc_auth"], provider
    finally:
        provider.stop()


@pytest.fixture
def env(sso_app: tuple[Any, AuthContext, Provider], r: redis.Redis) -> Iterator[tuple[Any, AuthContext, Provider]]:
    """Per test: a flushed Redis (the `r` fixture) and the provider's knobs back at their defaults."""
    server, ctx, provider = sso_app
    yield server, ctx, provider
    provider.audience_override, provider.amr, provider.subject = None, None, "user-0042"


def sso_account(ctx: AuthContext, name: str, role: str, subject: str, *, provider: Provider,
                local_password: bool = False) -> None:
    """An account linked to `subject`; without a local password unless asked (single sign-on only)."""
    ctx.accounts.create("test", name, [role])
    if not local_password:
        with ctx.engine.begin() as conn:
            conn.execute(update(auth_user).where(auth_user.c.username == name).values(password_hash=None))
    link_identity(ctx, "cli:test", name, provider.issuer, subject)


def to_provider(c: Any, query: str = "") -> str:
    """Begin on our app, let the real provider answer, return our callback's path and query."""
    begin = c.get("/login/sso" + query)
    assert begin.status_code == 302, begin.text
    back = requests.get(begin.headers["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302, back.text
    parts = urlsplit(back.headers["Location"])
    assert parts.path == "/login/sso/callback"
    return f"{parts.path}?{parts.query}"


def sso_login(c: Any, provider: Provider, subject: str, query: str = "") -> Any:
    provider.subject = subject
    return c.get(to_provider(c, query))


def last_login(ctx: AuthContext) -> Any:
    with ctx.engine.connect() as conn:
        return conn.execute(select(auth_audit).where(auth_audit.c.event == "login")
                            .order_by(auth_audit.c.id.desc()).limit(1)).mappings().one()


def test_begin_sets_a_one_attempt_cookie_and_redirects_to_the_provider(env: Any) -> None:
    server, _ctx, provider = env
    resp = server.test_client().get("/login/sso")
    assert resp.status_code == 302 and resp.headers["Location"].startswith(f"{provider.issuer}/authorize?")
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("cc_sso=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/login/sso" in cookie and "Secure" not in cookie


def test_linked_leadership_account_signs_in(env: Any) -> None:
    server, ctx, provider = env
    sso_account(ctx, "sso_leader", "leadership", "leader-sub", provider=provider)
    c = server.test_client()
    resp = sso_login(c, provider, "leader-sub")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert c.get("/_dash-layout").status_code == 200
    row = last_login(ctx)
    assert (row["result"], row["actor"]) == ("ok", "user:sso_leader") and "sso" in row["reason"]
    assert "mfa asserted" not in row["reason"]


def test_an_account_with_a_local_password_still_changes_it_first(env: Any) -> None:
    server, ctx, provider = env
    sso_account(ctx, "sso_pw", "leadership", "pw-sub", provider=provider, local_password=True)
    resp = sso_login(server.test_client(), provider, "pw-sub")
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/password"


def test_unlinked_identity_is_refused_without_leaking_claims(env: Any) -> None:
    server, ctx, provider = env
    c = server.test_client()
    resp = sso_login(c, provider, "nobody-here")
    assert resp.status_code == 403 and "该统一身份账号尚未关联本系统用户" in resp.text
    assert "nobody-here" not in resp.text and "zhang.wei" not in resp.text and "code=" not in resp.text
    assert c.get("/_dash-layout").status_code == 401
    row = last_login(ctx)
    assert (row["result"], row["reason"]) == ("fail", "sso identity not linked") and "nobody-here" in row["detail"]
    english = sso_login(server.test_client(), provider, "nobody-here", "?lang=en")
    assert english.status_code == 403 and "not linked to an account here" in english.text


def test_disabled_account_is_refused(env: Any) -> None:
    server, ctx, provider = env
    sso_account(ctx, "sso_gone", "duty_officer", "gone-sub", provider=provider)
    ctx.accounts.set_disabled("test", "sso_gone", True)
    resp = sso_login(server.test_client(), provider, "gone-sub")
    assert resp.status_code == 403 and "已停用" in resp.text
    row = last_login(ctx)
    assert (row["result"], row["reason"], row["actor"]) == ("fail", "account disabled", "user:sso_gone")


def test_administrator_needs_a_second_factor_unless_the_provider_asserted_one(env: Any) -> None:
    server, ctx, provider = env
    sso_account(ctx, "sso_sys", "system_admin", "sys-sub", provider=provider)
    provider.amr = ["pwd", "otp"]
    c = server.test_client()
    resp = sso_login(c, provider, "sys-sub")
    assert resp.status_code == 302 and resp.headers["Location"] not in STAGE_PAGES.values()  # the role's home page
    session = ctx.sessions.get(c.get_cookie(ctx.cookie).value)
    assert session is not None and session.stage == "full" and session.mfa is True
    assert "mfa asserted" in last_login(ctx)["reason"]

    provider.amr = None
    c2 = server.test_client()
    resp = sso_login(c2, provider, "sys-sub")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login/enrol"
    assert c2.get("/_dash-layout").headers["Location"] == "/login/enrol", "no app before the second factor"


def test_administrator_outside_the_management_networks_is_refused(env: Any) -> None:
    server, ctx, provider = env
    sso_account(ctx, "sso_sec", "security_admin", "sec-sub", provider=provider)
    provider.amr = ["otp"]
    ctx.admin_networks = (ip_network("10.1.0.0/16"),)
    try:
        resp = sso_login(server.test_client(), provider, "sec-sub")
    finally:
        ctx.admin_networks = ()
    assert resp.status_code == 403 and "管理终端网络" in resp.text
    row = last_login(ctx)
    assert (row["result"], row["actor"]) == ("denied", "user:sso_sec")


def test_replayed_callback_is_refused(env: Any) -> None:
    server, ctx, provider = env
    sso_account(ctx, "sso_replay", "leadership", "replay-sub", provider=provider)
    provider.subject = "replay-sub"
    c = server.test_client()
    callback = to_provider(c)
    token = c.get_cookie("cc_sso", path="/login/sso").value
    assert c.get(callback).status_code == 302
    assert c.get_cookie("cc_sso", path="/login/sso") is None, "the attempt cookie is cleared"
    tokens_redeemed = provider.hits["token"]
    c.set_cookie("cc_sso", token, path="/login/sso")  # even with the cookie put back, the attempt is spent
    again = c.get(callback)
    assert again.status_code == 403 and "已失效" in again.text
    assert provider.hits["token"] == tokens_redeemed, "refused before the code is redeemed"
    assert last_login(ctx)["reason"] == "sso attempt unknown or already used"
    assert server.test_client().get(callback).status_code == 403, "another browser has no attempt at all"


def test_token_for_another_audience_is_refused(env: Any) -> None:
    server, ctx, provider = env
    sso_account(ctx, "sso_aud", "leadership", "aud-sub", provider=provider)
    provider.audience_override = "some-other-client"
    resp = sso_login(server.test_client(), provider, "aud-sub")
    assert resp.status_code == 403 and "统一身份认证失败" in resp.text
    row = last_login(ctx)
    assert (row["result"], row["reason"]) == ("fail", "audience")


def test_wrong_state_is_refused_and_spends_the_attempt(env: Any) -> None:
    server, ctx, provider = env
    sso_account(ctx, "sso_state", "leadership", "state-sub", provider=provider)
    provider.subject = "state-sub"
    c = server.test_client()
    callback = to_provider(c)
    path, query = callback.split("?", 1)
    forged = "&".join("state=forged" if p.startswith("state=") else p for p in query.split("&"))
    assert c.get(f"{path}?{forged}").status_code == 403
    assert last_login(ctx)["reason"] == "state"
    assert c.get(callback).status_code == 403, "the genuine callback cannot follow a forged one"


def test_link_errors_and_unlink(env: Any) -> None:
    server, ctx, provider = env
    iss = provider.issuer
    sso_account(ctx, "sso_owner", "leadership", "owned-sub", provider=provider)
    ctx.accounts.create("test", "sso_other", ["leadership"])
    with pytest.raises(AccountError) as info:
        link_identity(ctx, "cli:test", "ghost", iss, "x")
    assert str(info.value) == "no account named 'ghost'"
    with pytest.raises(ValueError) as info:
        link_identity(ctx, "cli:test", "sso_other", iss, "owned-sub")
    assert str(info.value) == f"sso identity 'owned-sub' of {iss} is already linked to account 'sso_owner'"
    with pytest.raises(ValueError) as info:
        link_identity(ctx, "cli:test", "sso_owner", iss, "second-sub")
    assert str(info.value) == "account 'sso_owner' already has a single sign-on link: unlink it first"
    with pytest.raises(ValueError) as info:
        link_identity(ctx, "cli:test", "sso_other", iss, "")
    assert str(info.value) == "issuer and subject are required (at most 255 characters each)"

    assert unlink_identity(ctx, "cli:test", "sso_owner") is True
    assert unlink_identity(ctx, "cli:test", "sso_owner") is False
    assert sso_login(server.test_client(), provider, "owned-sub").status_code == 403
    link_identity(ctx, "cli:test", "sso_other", iss, "owned-sub")
    with ctx.engine.connect() as conn:
        events = conn.execute(select(auth_audit.c.event, auth_audit.c.actor, auth_audit.c.object)
                              .where(auth_audit.c.event.in_(["sso_link", "sso_unlink"]))
                              .order_by(auth_audit.c.id)).all()
    assert [tuple(e) for e in events][-3:] == [("sso_link", "cli:test", "user:sso_owner"),
                                               ("sso_unlink", "cli:test", "user:sso_owner"),
                                               ("sso_link", "cli:test", "user:sso_other")]


def test_redis_nonce_cache_refuses_the_second_use(r: redis.Redis) -> None:
    seen = redis_nonce_seen(r)
    assert seen("n-1", 660) is False
    assert seen("n-1", 660) is True
    assert seen("n-2", 660) is False
    keys = r.keys("sso:nonce:*")
    assert len(keys) == 2 and all(b"n-1" not in k for k in keys) and 0 < r.ttl(keys[0]) <= 660
