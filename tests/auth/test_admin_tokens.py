"""The tokens page (security administrator): list, issue (the secret shown once), revoke; refusals for the other
administrators and for posts without the form token; and the rate limit on the audit CSV export.

Runs on the real app of the `web` fixture (create_web passes the walls of app.walls() and the base URL).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask

from app import walls
from auth.sessions import SessionStore
from tests.auth.conftest import origin
from tests.auth.test_admin_web import account, events, post

SECRET = re.compile(r'<code class="ad-pw ad-token">([^<]+)</code>')
ENDPOINTS = [("get", "/admin/tokens"), ("post", "/admin/tokens"), ("post", "/admin/tokens/0123456789abcdef/revoke")]


@pytest.fixture(scope="module")
def tokens_app(web: Any) -> Iterator[tuple[Flask, Any, Any, Any]]:
    """(server, accounts, engine, tokens) of the real app, whose admin pages know the walls and base URL."""
    real, accounts, engine, _socketio = web
    yield real, accounts, engine, real.config["TEST_TOKENS"]


@pytest.fixture
def as_(tokens_app: Any, r: redis.Redis) -> Callable[..., Any]:
    """A test client of `server` (default: the assembled app) signed in as `name` holding `role`."""
    default, accounts, _, _ = tokens_app

    def make(name: str, role: str, server: Flask | None = None) -> Any:
        acc = account(accounts, name, role)
        s = SessionStore(r).create(user_id=acc.id, username=acc.username, roles=[role], unit_id=None, stage="full",
                                   address="127.0.0.1")
        c = (server or default).test_client()
        c.set_cookie("cc_session", s.sid)
        c.csrf = s.csrf
        return c

    return make


def row_of(page: str, token_id: str) -> str:
    """The table row of one token."""
    m = re.search(rf"<tr[^>]*>\s*<td><code>{token_id}</code>.*?</tr>", page, re.S)
    assert m, f"no row for {token_id}"
    return m.group(0)


def test_the_security_administrator_lists_tokens_with_both_issue_forms(tokens_app: Any, as_: Any) -> None:
    _, _, _, tokens = tokens_app
    info, _ = tokens.issue_source("test", "canteen", "listed")
    c = as_("sectok", "security_admin")
    page = c.get("/admin/tokens")
    assert page.status_code == 200 and "<script" not in page.text and "令牌管理" in page.text
    assert 'href="/admin/tokens" class="ad-on"' in page.text, "linked from the admin navigation"
    assert all(f'<option value="{w}">' in page.text for w in walls())
    assert '<option value="canteen">' in page.text and 'name="kind" value="source"' in page.text
    row = row_of(page.text, info.id)
    assert "数据源令牌" in row and "system:canteen" in row and "listed" in row and "有效" in row
    assert f'action="/admin/tokens/{info.id}/revoke"' in row and f'value="{c.csrf}"' in row
    en = c.get("/admin/tokens?lang=en").text
    assert "Issue a display token" in en and 'action="/admin/tokens?lang=en"' in en


def test_a_display_token_is_shown_once_as_a_pairing_link_that_pairs(tokens_app: Any, as_: Any) -> None:
    server, _, engine, _ = tokens_app
    c = as_("sectok", "security_admin")
    resp = post(c, "/admin/tokens", {"kind": "display", "scope": "playlist:leadership", "label": "大厅"})
    assert resp.status_code == 200 and "Location" not in resp.headers and resp.headers["Cache-Control"] == "no-store"
    url = SECRET.search(resp.text).group(1)
    assert re.fullmatch(rf"{origin(server)}/pair/[2-9A-HJ-NP-Z]{{5}}-[2-9A-HJ-NP-Z]{{5}}", url)
    assert resp.text.count(url) == 1 and "仅显示这一次" in resp.text
    code = url.rsplit("/", 1)[1]
    issued = events(engine, "token_issue")[-1]
    assert issued["actor"] == "user:sectok" and code not in issued["detail"] and code not in issued["reason"]
    token_id = issued["object"].split(":", 1)[1]
    listing = c.get("/admin/tokens").text
    assert code not in listing and "待配对" in row_of(listing, token_id)
    wall = server.test_client().get(urlsplit(url).path)
    assert wall.status_code == 302 and wall.headers["Location"] == "/wall/leadership?kiosk=1"
    assert "已配对" in row_of(c.get("/admin/tokens").text, token_id)


def test_a_source_token_is_shown_once_and_verifies(tokens_app: Any, as_: Any) -> None:
    _, _, engine, tokens = tokens_app
    c = as_("sectok", "security_admin")
    resp = post(c, "/admin/tokens?lang=en", {"kind": "source", "system": "onecard", "label": "gate feed"})
    assert resp.status_code == 200 and "shown only this once" in resp.text
    bearer = SECRET.search(resp.text).group(1)
    info = tokens.verify_source(bearer)
    assert info is not None and info.scope == "system:onecard" and info.label == "gate feed"
    assert bearer not in c.get("/admin/tokens").text and bearer not in str(events(engine, "token_issue")[-1])


def test_revoking_shows_revoked_and_the_token_stops_verifying(tokens_app: Any, as_: Any) -> None:
    _, _, engine, tokens = tokens_app
    info, bearer = tokens.issue_source("test", "energy", "to revoke")
    c = as_("sectok", "security_admin")
    resp = post(c, f"/admin/tokens/{info.id}/revoke")
    assert resp.status_code == 200 and f"已吊销令牌 {info.id}" in resp.text
    row = row_of(resp.text, info.id)
    assert "已吊销" in row and "/revoke" not in row, "no button for a revoked token"
    assert tokens.verify_source(bearer) is None
    rec = events(engine, "token_revoke")[-1]
    assert rec["actor"] == "user:sectok" and rec["object"] == f"token:{info.id}" and rec["result"] == "ok"


def test_bad_issues_and_revokes_are_refused_and_audited(tokens_app: Any, as_: Any) -> None:
    _, _, engine, tokens = tokens_app
    before = len(tokens.list())
    c = as_("sectok", "security_admin")
    assert post(c, "/admin/tokens", {"kind": "display", "scope": "screen:elsewhere"}).status_code == 400
    assert post(c, "/admin/tokens", {"kind": "source", "system": "no_such_system"}).status_code == 400
    assert post(c, "/admin/tokens", {"kind": "root"}).status_code == 400
    assert post(c, "/admin/tokens", {"kind": "source", "system": "canteen", "label": "x" * 129}).status_code == 400
    assert len(tokens.list()) == before
    assert events(engine, "token_issue")[-1]["result"] == "fail"
    resp = post(c, "/admin/tokens/ffffffffffffffff/revoke")
    assert resp.status_code == 400 and "没有编号为 ffffffffffffffff 的令牌" in resp.text
    assert post(c, "/admin/tokens/not-an-id/revoke").status_code == 400
    assert events(engine, "token_revoke")[-1]["result"] == "fail"


def test_the_system_and_audit_administrators_are_refused(tokens_app: Any, as_: Any) -> None:
    _, _, _, tokens = tokens_app
    info, bearer = tokens.issue_source("test", "rooms", "kept")
    before = len(tokens.list())
    for name, role in (("systok", "system_admin"), ("audtok", "audit_admin")):
        c = as_(name, role)
        assert c.get("/admin/tokens").status_code == 403, role
        assert post(c, "/admin/tokens", {"kind": "source", "system": "rooms"}).status_code == 403, role
        assert post(c, f"/admin/tokens/{info.id}/revoke").status_code == 403, role
    assert len(tokens.list()) == before and tokens.verify_source(bearer) is not None


def test_posts_without_the_form_token_are_refused(tokens_app: Any, as_: Any) -> None:
    _, _, engine, tokens = tokens_app
    info, bearer = tokens.issue_source("test", "vehicles", "kept")
    before = len(tokens.list())
    c = as_("sectok", "security_admin")
    assert post(c, "/admin/tokens", {"kind": "source", "system": "vehicles"}, csrf=False).status_code == 403
    assert post(c, f"/admin/tokens/{info.id}/revoke", csrf=False).status_code == 403
    assert c.post(f"/admin/tokens/{info.id}/revoke", data={"csrf": "wrong"},
                  headers={"Origin": origin(c)}).status_code == 403
    assert len(tokens.list()) == before and tokens.verify_source(bearer) is not None
    assert events(engine, "access_denied")[-1]["reason"] == "missing or wrong form token"


def test_the_real_app_serves_the_page_and_links_it_for_tokens_manage_only(web: Any, as_: Any) -> None:
    real = web[0]
    sec = as_("sectok", "security_admin", real)
    assert sec.get("/admin/tokens").status_code == 200
    assert 'href="/admin/tokens"' in sec.get("/admin/users").text
    sys_page = as_("systok", "system_admin", real).get("/admin/users").text
    assert "/admin/tokens" not in sys_page
    assert as_("systok", "system_admin", real).get("/admin/tokens").status_code == 403


def test_the_eleventh_export_within_a_minute_is_refused_with_retry_after(tokens_app: Any, as_: Any) -> None:
    _, _, engine, _ = tokens_app
    c = as_("audtok", "audit_admin")
    for i in range(10):
        assert c.get("/admin/audit.csv?event=none_such").status_code == 200, i
    resp = c.get("/admin/audit.csv?event=none_such")
    assert resp.status_code == 429 and 1 <= int(resp.headers["Retry-After"]) <= 60 and "导出过于频繁" in resp.text
    rec = events(engine, "audit_export")[-1]
    assert rec["result"] == "denied" and rec["actor"] == "user:audtok"
    other = as_("audtok2", "audit_admin")
    assert other.get("/admin/audit.csv").status_code == 200, "the limit is per account"
