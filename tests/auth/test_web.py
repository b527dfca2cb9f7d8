"""The built web app's guard and login flow through Flask's test client, on real Redis and SQLite.

Covers: anonymous access, login with a forced password change, the administrators' TOTP enrolment
and second factor (with a replayed code refused), lockout and the per-address rate limit, CSRF on
forms and on Dash POSTs, a forged callback, logout, headers, and the audit trail of all of it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyotp
import pytest
import redis
from sqlalchemy import select

from auth import audit
from tests.auth.conftest import origin
from warehouse.identity import auth_audit

HTML = {"Accept": "text/html"}


@pytest.fixture
def ctx(web: Any, r: redis.Redis) -> Any:
    server, accounts, engine, _ = web
    return server, accounts, engine


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def login(client: Any, username: str, password: str, addr: str = "10.0.0.1") -> Any:
    page = client.get("/login", environ_base={"REMOTE_ADDR": addr})
    return client.post("/login", data={"username": username, "password": password, "csrf": csrf_of(page.text)},
                       environ_base={"REMOTE_ADDR": addr}, headers={"Origin": origin(client)})


def change_password(client: Any, old: str, new: str) -> Any:
    page = client.get("/account/password")
    return client.post("/account/password", data={"old": old, "new": new, "repeat": new, "csrf": csrf_of(page.text)},
                       headers={"Origin": origin(client)})


def audit_events(engine: Any) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [tuple(x) for x in conn.execute(select(auth_audit.c.event, auth_audit.c.result, auth_audit.c.actor)
                                               .order_by(auth_audit.c.id)).all()]


def signed_in(server: Any, accounts: Any, name: str, role: str = "leadership") -> Any:
    """A client through the whole first sign-in of a new viewer (password, forced change)."""
    pw = user(accounts, name, role)
    c = server.test_client()
    login(c, name, pw)
    assert change_password(c, pw, "Qiang!Wall-2026x").status_code == 302
    return c


def user(accounts: Any, name: str, role: str) -> str:
    if accounts.get(name):
        return accounts.reset_password("test", name, reset_totp=True)
    return accounts.create("test", name, [role])[1]


def test_anonymous_gets_the_login_page_or_401(ctx: Any) -> None:
    server, _, _ = ctx
    c = server.test_client()
    assert c.get("/", headers=HTML).headers["Location"] == "/login"
    assert c.get("/_dash-layout").status_code == 401
    assert c.post("/_dash-update-component", json={"output": "x"}, headers={"Origin": origin(c)}).status_code == 401
    assert c.get("/healthz").status_code in (200, 503)
    page = c.get("/login")
    assert page.status_code == 200 and "登录" in page.text and "<script" not in page.text


def test_first_login_forces_a_password_change_then_opens_the_live_page(ctx: Any) -> None:
    server, accounts, engine = ctx
    pw = user(accounts, "leader1", "leadership")
    c = server.test_client()
    resp = login(c, "leader1", pw)
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/password"
    assert c.get("/", headers=HTML).headers["Location"] == "/account/password", "no page before the change"
    bad = change_password(c, pw, "password1!")
    assert "常见" in bad.text or "common" in bad.text.lower()
    ok = change_password(c, pw, "Leader!2026x")
    assert ok.status_code == 302 and ok.headers["Location"] == "/"
    assert c.get("/_dash-layout").status_code == 200
    events = audit_events(engine)
    assert ("login", "ok", "user:leader1") in events and ("password_change", "ok", "user:leader1") in events


def test_an_administrator_enrols_totp_and_a_code_works_once(ctx: Any) -> None:
    server, accounts, engine = ctx
    pw = user(accounts, "sys1", "system_admin")
    c = server.test_client()
    assert login(c, "sys1", pw).headers["Location"] == "/login/enrol"
    page = c.get("/login/enrol")
    assert "<svg" in page.text
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page.text).group(1)
    code = pyotp.TOTP(secret).now()
    resp = c.post("/login/enrol", data={"code": code, "csrf": csrf_of(page.text)}, headers={"Origin": origin(c)})
    assert resp.headers["Location"] == "/account/password"
    assert change_password(c, pw, "Sys!admin2026").headers["Location"] == "/admin/users", "the admin's own page"

    c2 = server.test_client()  # the next login needs a fresh code; the enrolment code is spent
    assert login(c2, "sys1", "Sys!admin2026").headers["Location"] == "/login/code"
    page = c2.get("/login/code")
    replay = c2.post("/login/code", data={"code": code, "csrf": csrf_of(page.text)}, headers={"Origin": origin(c2)})
    assert replay.status_code == 200 and "已使用" in replay.text
    assert ("second_factor", "fail", "user:sys1") in audit_events(engine)


def test_the_system_administrator_sees_no_live_data(ctx: Any) -> None:
    server, accounts, _ = ctx
    from auth.access import Principal, allows
    from auth.roles import Perm, Role

    admin = Principal.person(1, "sys", frozenset({Role.SYSTEM_ADMIN}), None, "full")
    assert not allows(Perm.LIVE_VIEW, admin) and not allows(Perm.AUDIT_READ, admin)


def test_five_failures_lock_the_account_for_that_address(ctx: Any) -> None:
    server, accounts, engine = ctx
    pw = user(accounts, "duty1", "duty_officer")
    c = server.test_client()
    for _ in range(5):
        assert login(c, "duty1", "wrong", addr="10.9.9.9").status_code == 401
    locked = login(c, "duty1", pw, addr="10.9.9.9")
    assert locked.status_code == 401 and "分钟后再试" in locked.text
    assert login(server.test_client(), "duty1", pw, addr="10.0.0.2").status_code == 302, "others still sign in"
    assert ("lockout", "ok", "system") in audit_events(engine)


def test_the_address_rate_limit_answers_429_with_retry_after(ctx: Any) -> None:
    server, _, _ = ctx
    c = server.test_client()
    codes = [login(c, f"nobody{i}", "x", addr="10.7.7.7").status_code for i in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429


def test_forms_need_their_token_and_posts_their_origin(ctx: Any) -> None:
    server, accounts, _ = ctx
    pw = user(accounts, "leader2", "leadership")
    c = server.test_client()
    c.get("/login")
    no_token = c.post("/login", data={"username": "leader2", "password": pw}, headers={"Origin": origin(c)})
    assert no_token.status_code == 403
    foreign = c.post("/login", data={"username": "leader2", "password": pw, "csrf": "x"},
                     headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    login(c, "leader2", pw)
    change_password(c, pw, "Leader!2026y")
    body = {"output": ".._pages_content.children..._pages_store.data..", "inputs": [], "changedPropIds": []}
    assert c.post("/_dash-update-component", json=body).status_code == 403, "no Origin: refused"
    assert c.post("/_dash-update-component", data="output=x", headers={"Origin": origin(c)},
                  content_type="application/x-www-form-urlencoded").status_code == 403, "not JSON: refused"


def test_a_forged_callback_is_refused_and_audited(ctx: Any) -> None:
    server, accounts, engine = ctx
    c = signed_in(server, accounts, "leader3")
    forged = c.post("/_dash-update-component", json={"output": "audit-table.data", "inputs": []},
                    headers={"Origin": origin(c)})
    assert forged.status_code == 403
    assert ("access_denied", "denied", "user:leader3") in audit_events(engine)


def test_logout_ends_the_session(ctx: Any) -> None:
    server, accounts, engine = ctx
    c = signed_in(server, accounts, "leader4")
    assert c.get("/_dash-layout").status_code == 200
    form = c.get("/no-access")
    resp = c.post("/logout", data={"csrf": csrf_of(form.text)}, headers={"Origin": origin(c)})
    assert resp.headers["Location"] == "/login"
    assert c.get("/_dash-layout").status_code == 401
    assert ("logout", "ok", "user:leader4") in audit_events(engine)


def test_security_headers(ctx: Any) -> None:
    server, _, _ = ctx
    resp = server.test_client().get("/login")
    csp = resp.headers["Content-Security-Policy"]
    for part in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert part in csp
    assert "unsafe-eval" not in csp and "*" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in resp.headers, "HSTS only under HTTPS"


def test_the_audit_chain_of_a_session_of_logins_verifies(ctx: Any) -> None:
    _, _, engine = ctx
    with engine.connect() as conn:
        assert audit.verify(conn) == []
        n = conn.execute(select(auth_audit.c.id)).all()
    assert len(n) > 5
    assert dt.datetime.now(dt.UTC).year >= 2026


def test_administrators_only_from_the_configured_networks(ctx: Any) -> None:
    from ipaddress import ip_network

    from auth.roles import Role
    from auth.web import AuthContext

    server, _, _ = ctx
    ac = AuthContext(engine=None, accounts=None, sessions=None, throttle=None, crypto_profile="standard",  # type: ignore[arg-type]
                     origins=frozenset(), admin_networks=(ip_network("10.1.0.0/16"),))
    for addr, roles, ok in [("10.1.2.3", {Role.SECURITY_ADMIN}, True), ("10.2.0.1", {Role.SECURITY_ADMIN}, False),
                            ("10.2.0.1", {Role.LEADERSHIP}, True), ("garbage", {Role.AUDIT_ADMIN}, False)]:
        with server.test_request_context(environ_base={"REMOTE_ADDR": addr}):
            assert ac.admin_address_ok(roles) is ok, (addr, roles)


def test_an_unhandled_error_shows_no_stack_trace(ctx: Any) -> None:
    server, accounts, _ = ctx
    c = signed_in(server, accounts, "leader5")
    broken = {"output": ".._pages_content.children..._pages_store.data..", "inputs": "not a list"}
    resp = c.post("/_dash-update-component", json=broken, headers={"Origin": origin(c)})
    assert resp.status_code == 500 and resp.get_json() == {"error": "internal error"}
    assert "Traceback" not in resp.text and "File " not in resp.text


def test_debug_mode_is_refused_outside_development(tmp_path: Any) -> None:
    from settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="DEBUG: refused outside ENVIRONMENT=development"):
        load_settings({"DEBUG": "1", "DATA_DIR": str(tmp_path)}, path=tmp_path / "none.yaml")
    assert load_settings({"DEBUG": "1", "ENVIRONMENT": "development", "DATA_DIR": str(tmp_path)},
                         path=tmp_path / "none.yaml").debug
    with pytest.raises(SettingsError, match="ADMIN_NETWORKS: 'ten' is not an address range"):
        load_settings({"ADMIN_NETWORKS": "10.0.0.0/8, ten", "DATA_DIR": str(tmp_path)}, path=tmp_path / "none.yaml")


def test_an_expired_password_must_be_changed_and_an_expiring_one_is_announced(ctx: Any) -> None:
    from sqlalchemy import update

    from warehouse.identity import auth_user

    server, accounts, engine = ctx
    pw = user(accounts, "aging1", "duty_officer")

    def age(days: int) -> None:
        with engine.begin() as conn:
            conn.execute(update(auth_user).where(auth_user.c.username == "aging1").values(
                must_change=False, password_changed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days)))

    age(91)
    c = server.test_client()
    assert login(c, "aging1", pw).headers["Location"] == "/account/password"
    assert c.get("/", headers={"Accept": "text/html"}).headers["Location"] == "/account/password"
    assert change_password(c, pw, "Duty!2026-new").headers["Location"] == "/"

    age(85)
    c2 = server.test_client()
    assert login(c2, "aging1", "Duty!2026-new").headers["Location"] == "/account/password"
    page = c2.get("/account/password")
    assert "密码将在 5 天后过期" in page.text and 'href="/"' in page.text
    assert c2.get("/_dash-layout").status_code == 200, "an expiring password does not block the work"
