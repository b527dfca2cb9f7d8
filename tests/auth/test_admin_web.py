"""The administration pages (auth/admin_web.py) through the real app, real Redis (db 9) and SQLite.

Covers the three administrators' separated powers, one-time passwords shown once, sessions ending
after a change, the audit page's filters and chain check, the CSV export (BOM, injection), XSS,
form tokens, and refusals for everybody else.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import redis
from sqlalchemy import select

from auth import audit
from auth.admin_web import csv_cell
from auth.audit import AuditEvent
from auth.lockout import LoginThrottle
from auth.sessions import SessionStore
from tests.auth.conftest import origin
from warehouse.identity import auth_audit

HTML = {"Accept": "text/html"}
POSTS = ["/admin/users", "/admin/users/x/action", "/admin/users/x/roles", "/admin/users/x/unlock"]
GETS = ["/admin/users", "/admin/audit", "/admin/audit.csv"]


@pytest.fixture(scope="module")
def admin_web(web: Any) -> Any:
    """The real app (create_web registers the admin blueprint) on Redis db 9 and a fresh SQLite."""
    server, accounts, engine, _socketio = web
    return server, accounts, engine


@pytest.fixture
def env(admin_web: Any, r: redis.Redis) -> Any:
    return admin_web


def account(accounts: Any, name: str, role: str, **kw: Any) -> Any:
    """The account, created on first use (the database lives for the whole module)."""
    return accounts.get(name) or accounts.create("test", name, [role], **kw)[0]


@pytest.fixture
def as_(env: Any, r: redis.Redis) -> Callable[[str, str], Any]:
    """A test client signed in (full session) as `name` holding `role`; its form token is `client.csrf`."""
    server, accounts, _ = env

    def make(name: str, role: str) -> Any:
        acc = account(accounts, name, role)
        s = SessionStore(r).create(user_id=acc.id, username=acc.username, roles=[role], unit_id=None, stage="full",
                                   address="127.0.0.1")
        c = server.test_client()
        c.set_cookie("cc_session", s.sid)
        c.csrf, c.sid = s.csrf, s.sid
        return c

    return make


def post(c: Any, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True) -> Any:
    """A form post as the browser sends it: same Origin, the session's token unless told otherwise."""
    return c.post(url, data={**(data or {}), **({"csrf": c.csrf} if csrf else {})},
                  headers={"Origin": origin(c)})


def events(engine: Any, event: str) -> list[Any]:
    """The audit records of one event, oldest first."""
    with engine.connect() as conn:
        return conn.execute(select(auth_audit).where(auth_audit.c.event == event)
                            .order_by(auth_audit.c.id)).mappings().all()


def test_the_system_administrator_creates_a_leadership_account_and_sees_its_password_once(env: Any, as_: Any) -> None:
    _, accounts, engine = env
    c = as_("sysweb", "system_admin")
    page = c.get("/admin/users")
    assert page.status_code == 200 and 'action="/admin/users"' in page.text and "<script" not in page.text
    resp = post(c, "/admin/users", {"username": "lead_a", "display_name": "领导甲", "role": "leadership"})
    assert resp.status_code == 200 and "Location" not in resp.headers
    pw = re.search(r'<code class="ad-pw">([^<]+)</code>', resp.text).group(1)
    assert resp.text.count(pw) == 1 and "首次登录时必须修改" in resp.text
    acc = accounts.get("lead_a")
    assert acc.display_name == "领导甲" and {r.value for r in acc.roles} == {"leadership"} and acc.must_change
    assert accounts.authenticate("lead_a", pw) is not None
    assert pw not in c.get("/admin/users").text, "shown once only"
    assert events(engine, "user_create")[-1]["actor"] == "user:sysweb"


def test_the_system_administrator_cannot_create_an_administrator(env: Any, as_: Any) -> None:
    _, accounts, engine = env
    c = as_("sysweb", "system_admin")
    resp = post(c, "/admin/users", {"username": "sneaky", "role": ["leadership", "audit_admin"]})
    assert resp.status_code == 400 and "不能创建管理员角色" in resp.text
    assert accounts.get("sneaky") is None
    assert events(engine, "user_create")[-1]["result"] == "fail"
    assert post(c, "/admin/users?lang=en", {"username": "x1", "role": "security_admin"}).text.count(
        "cannot create an account with an administrator role") == 1
    assert post(c, "/admin/users", {"username": "bad name!", "role": "leadership"}).status_code == 400


def test_disable_and_reset_end_the_users_sessions(env: Any, as_: Any, r: redis.Redis) -> None:
    _, accounts, _ = env
    c = as_("sysweb", "system_admin")
    victim = as_("duty_a", "duty_officer")
    store = SessionStore(r)
    assert store.get(victim.sid) is not None
    resp = post(c, "/admin/users/duty_a/action", {"action": "disable"})
    assert resp.status_code == 200 and accounts.get("duty_a").disabled
    assert store.get(victim.sid) is None and victim.get("/whoami").status_code == 401
    assert post(c, "/admin/users/duty_a/action", {"action": "enable"}).status_code == 200
    assert not accounts.get("duty_a").disabled

    victim = as_("duty_a", "duty_officer")
    resp = post(c, "/admin/users/duty_a/action", {"action": "reset"})
    pw = re.search(r'<code class="ad-pw">([^<]+)</code>', resp.text).group(1)
    assert resp.status_code == 200 and store.get(victim.sid) is None
    assert accounts.authenticate("duty_a", pw) is not None and accounts.get("duty_a").must_change
    assert post(c, "/admin/users/duty_a/action", {"action": "explode"}).status_code == 400


def test_the_system_administrator_leaves_themselves_and_other_administrators_alone(env: Any, as_: Any) -> None:
    _, accounts, _ = env
    c = as_("sysweb", "system_admin")
    account(accounts, "secweb", "security_admin")
    resp = post(c, "/admin/users/sysweb/action", {"action": "disable"})
    assert resp.status_code == 400 and "本人" in resp.text and not accounts.get("sysweb").disabled
    assert post(c, "/admin/users/secweb/action", {"action": "reset"}).status_code == 400
    assert post(c, "/admin/users/nobody_here/action", {"action": "disable"}).status_code == 400


def test_the_system_administrator_cannot_change_roles_unlock_or_read_the_audit_log(env: Any, as_: Any) -> None:
    c = as_("sysweb", "system_admin")
    assert post(c, "/admin/users/lead_a/roles", {"role": "manager"}).status_code == 403
    assert post(c, "/admin/users/lead_a/unlock").status_code == 403
    assert c.get("/admin/audit").status_code == 403 and c.get("/admin/audit.csv").status_code == 403


def test_the_security_administrator_changes_roles_and_the_change_is_audited(env: Any, as_: Any, r: Any) -> None:
    _, accounts, engine = env
    account(accounts, "mgr_a", "leadership")
    victim = as_("mgr_a", "leadership")
    c = as_("secweb", "security_admin")
    page = c.get("/admin/users")
    assert page.status_code == 200 and "/admin/users/mgr_a/roles" in page.text
    assert 'action="/admin/users"' not in page.text, "no create form for the security administrator"
    resp = post(c, "/admin/users/mgr_a/roles", {"role": ["manager", "duty_officer"]})
    assert resp.status_code == 200
    assert {x.value for x in accounts.get("mgr_a").roles} == {"manager", "duty_officer"}
    rec = events(engine, "role_change")[-1]
    assert rec["actor"] == "user:secweb" and json.loads(rec["detail"]) == {
        "before": ["leadership"], "after": ["duty_officer", "manager"], "unit_before": None, "unit_after": None}
    assert SessionStore(r).get(victim.sid) is None


def test_two_administrator_roles_and_self_demotion_are_refused(env: Any, as_: Any) -> None:
    _, accounts, _ = env
    account(accounts, "mgr_b", "manager")
    c = as_("secweb", "security_admin")
    resp = post(c, "/admin/users/mgr_b/roles", {"role": ["system_admin", "audit_admin"]})
    assert resp.status_code == 400 and "one person cannot hold two of the three administrator roles" in resp.text
    assert {x.value for x in accounts.get("mgr_b").roles} == {"manager"}
    assert post(c, "/admin/users/secweb/roles", {"role": "leadership"}).status_code == 400
    assert {x.value for x in accounts.get("secweb").roles} == {"security_admin"}


def test_the_security_administrator_unlocks(env: Any, as_: Any, r: redis.Redis) -> None:
    _, accounts, engine = env
    account(accounts, "duty_b", "duty_officer")
    throttle = LoginThrottle(r)
    for _ in range(5):
        throttle.failure("duty_b", "10.1.2.3")
    assert throttle.locked_for("duty_b", "10.1.2.3")
    c = as_("secweb", "security_admin")
    page = c.get("/admin/users").text
    assert "已锁定" in page and "/admin/users/duty_b/unlock" in page
    assert post(c, "/admin/users/duty_b/unlock").status_code == 200
    assert throttle.locked_for("duty_b", "10.1.2.3") is None
    assert "/admin/users/duty_b/unlock" not in c.get("/admin/users").text, "the button only for a locked account"
    rec = events(engine, "unlock")[-1]
    assert rec["object"] == "user:duty_b" and rec["actor"] == "user:secweb"


def test_the_security_administrator_cannot_manage_accounts_or_read_audit(env: Any, as_: Any) -> None:
    _, accounts, _ = env
    c = as_("secweb", "security_admin")
    assert post(c, "/admin/users", {"username": "sec_made", "role": "leadership"}).status_code == 403
    assert accounts.get("sec_made") is None
    assert post(c, "/admin/users/lead_a/action", {"action": "disable"}).status_code == 403
    assert c.get("/admin/audit").status_code == 403 and c.get("/admin/audit.csv").status_code == 403


def _probe(engine: Any, actor: str, event: str, reason: str = "", n: int = 1) -> None:
    """Known records to search for."""
    for _ in range(n):
        audit.record(engine, AuditEvent(actor=actor, event=event, reason=reason), now=dt.datetime.now(dt.UTC))


def test_the_audit_administrator_searches_and_pages_the_log(env: Any, as_: Any) -> None:
    _, _, engine = env
    _probe(engine, "user:alice_probe", "probe_a")
    _probe(engine, "user:bob_probe", "probe_b")
    _probe(engine, "system", "probe_page", n=60)
    c = as_("audweb", "audit_admin")
    assert c.get("/admin/users").status_code == 403
    by_event = c.get("/admin/audit?event=probe_a")
    assert by_event.status_code == 200 and "user:alice_probe" in by_event.text and "user:bob_probe" not in by_event.text
    by_actor = c.get("/admin/audit?actor=BOB_pro")
    assert "user:bob_probe" in by_actor.text and "user:alice_probe" not in by_actor.text
    first, second = c.get("/admin/audit?event=probe_page"), c.get("/admin/audit?event=probe_page&page=2")
    assert first.text.count("<td>probe_page</td>") == 50 and second.text.count("<td>probe_page</td>") == 10
    assert "共 60 条" in first.text and "page=2" in first.text
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    dated = c.get(f"/admin/audit?event=probe_a&from={today}&to={today}")
    assert "user:alice_probe" in dated.text
    assert "user:alice_probe" not in c.get(f"/admin/audit?event=probe_a&to={today - dt.timedelta(days=1)}").text
    assert c.get("/admin/audit?from=yesterday").status_code == 400
    assert "审计日志完整" in c.get("/admin/audit?verify=1").text
    assert "Audit log intact" in c.get("/admin/audit?verify=1&lang=en").text
    assert "审计日志完整" not in c.get("/admin/audit").text, "the full scan only when asked"
    views = events(engine, "audit_view")
    assert views[-1]["actor"] == "user:audweb" and len(views) >= 8


def test_the_audit_export_is_filtered_csv_with_a_bom_and_defused_formulas(env: Any, as_: Any) -> None:
    _, _, engine = env
    _probe(engine, "user:carol", "probe_csv", reason="=cmd")
    _probe(engine, "user:carol", "probe_csv", reason="@SUM(A1)")
    _probe(engine, "user:dave", "probe_other")
    c = as_("audweb", "audit_admin")
    resp = c.get("/admin/audit.csv?event=probe_csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename="audit-\d{8}-\d{4}\.csv"', resp.headers["Content-Disposition"])
    assert resp.data.startswith(b"\xef\xbb\xbf")
    lines = resp.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("编号,时间") and len(lines) == 3
    assert all(",probe_csv," in x for x in lines[1:]) and "'=cmd" in lines[2] and "'@SUM(A1)" in lines[1]
    rec = events(engine, "audit_export")[-1]
    assert rec["actor"] == "user:audweb" and json.loads(rec["detail"]) == {"filter": {"event": "probe_csv"}}
    assert [csv_cell(v) for v in ("+1", "-2", "ok", None, 5)] == ["'+1", "'-2", "ok", "", "5"]


def test_a_viewer_and_anonymous_are_refused_everything(env: Any, as_: Any) -> None:
    server, _, _ = env
    c = as_("lead_view", "leadership")
    for url in GETS:
        assert c.get(url).status_code == 403, url
    for url in POSTS:
        assert post(c, url, {"action": "disable", "role": "leadership", "username": "zz"}).status_code == 403, url
    anon = server.test_client()
    for url in GETS:
        assert anon.get(url).status_code == 401, url
        assert anon.get(url, headers=HTML).headers["Location"] == "/login", url
    for url in POSTS:
        assert anon.post(url, data={"csrf": "x"}, headers={"Origin": origin(anon)}).status_code in (401, 403), url


def test_values_render_as_text_and_usernames_are_quoted_in_urls(env: Any, as_: Any) -> None:
    _, accounts, _ = env
    c = as_("sysweb", "system_admin")
    resp = post(c, "/admin/users", {"username": "x@ss.example", "display_name": "<script>alert(1)</script>",
                                    "role": "manager"})
    assert resp.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in resp.text and "<script>alert" not in resp.text
    assert "/admin/users/x%40ss.example/action" in resp.text
    assert post(c, "/admin/users/x%40ss.example/action", {"action": "disable"}).status_code == 200
    assert accounts.get("x@ss.example").disabled


def test_every_post_needs_the_form_token(env: Any, as_: Any, r: redis.Redis) -> None:
    _, accounts, engine = env
    account(accounts, "duty_c", "duty_officer")
    sysc, secc = as_("sysweb", "system_admin"), as_("secweb", "security_admin")
    cases = [(sysc, "/admin/users", {"username": "no_token", "role": "leadership"}),
             (sysc, "/admin/users/duty_c/action", {"action": "disable"}),
             (secc, "/admin/users/duty_c/roles", {"role": "manager"}),
             (secc, "/admin/users/duty_c/unlock", {})]
    for c, url, data in cases:
        assert post(c, url, data, csrf=False).status_code == 403, url
        assert c.post(url, data={**data, "csrf": "wrong"}, headers={"Origin": origin(c)}).status_code == 403, url
    assert accounts.get("no_token") is None and not accounts.get("duty_c").disabled
    assert {x.value for x in accounts.get("duty_c").roles} == {"duty_officer"}
    assert events(engine, "access_denied")[-1]["reason"] == "missing or wrong form token"


def test_english_pages_and_the_audit_chain_after_all_of_it(env: Any, as_: Any) -> None:
    _, _, engine = env
    page = as_("sysweb", "system_admin").get("/admin/users?lang=en")
    assert page.status_code == 200 and "Accounts" in page.text and 'action="/admin/users?lang=en"' in page.text
    with engine.connect() as conn:
        assert audit.verify(conn) == []


def test_the_security_administrator_sets_a_unit_admins_data_scope(env: Any, as_: Any) -> None:
    _, accounts, engine = env
    account(accounts, "scope_a", "manager")
    c = as_("secweb", "security_admin")
    assert 'name="unit_id"' in c.get("/admin/users").text
    missing = post(c, "/admin/users/scope_a/roles", {"role": "unit_admin", "unit_id": ""})
    assert missing.status_code == 400 and "a unit admin needs a unit" in missing.text
    unknown = post(c, "/admin/users/scope_a/roles", {"role": "unit_admin", "unit_id": "U99"})
    assert unknown.status_code == 400 and "no unit &#39;U99&#39;" in unknown.text
    ok = post(c, "/admin/users/scope_a/roles", {"role": "unit_admin", "unit_id": "U03"})
    assert ok.status_code == 200
    acc = accounts.get("scope_a")
    assert acc.unit_id == "U03" and {r.value for r in acc.roles} == {"unit_admin"}
    assert '"unit_after": "U03"' in events(engine, "role_change")[-1]["detail"]


INJECTIONS = ["' OR '1'='1", "1; DROP TABLE auth_audit; --", "%' UNION SELECT hash FROM auth_audit --", "\x00",
              "<script>alert(1)</script>", "9" * 400, "2026-13-45", "-1"]


def test_injection_strings_in_every_audit_filter_are_harmless(env: Any, as_: Any) -> None:
    _, _, engine = env
    c = as_("audweb", "audit_admin")
    with engine.connect() as conn:
        before = len(conn.execute(select(auth_audit.c.id)).all())
    for param in ("from", "to", "actor", "event", "result", "page"):
        for bad in INJECTIONS:
            for url in ("/admin/audit", "/admin/audit.csv"):
                resp = c.get(url, query_string={param: bad})
                assert resp.status_code in (200, 400, 429), (param, bad, url, resp.status_code)
                assert "<script>alert" not in resp.text
    with engine.connect() as conn:
        assert len(conn.execute(select(auth_audit.c.id)).all()) >= before, "nothing was deleted"
        assert audit.verify(conn) == []
