"""Identity pages in headless Chromium: hostile names render as text (no script runs, CSP holds), the admin
and sign-in pages load with no console error and nothing from outside 127.0.0.1."""

from __future__ import annotations

from typing import Any

import redis

from auth.sessions import SessionStore
from tests.auth.conftest import web  # noqa: F401  (the real app, built as app.py web builds it)
from tests.auth.test_matrix import socket_url  # noqa: F401  (the web fixture served for real)
from tests.browser.conftest import SCREENS, PageLog

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def signed_in(page_log: PageLog, url: str, r: redis.Redis, user_id: int, name: str, role: str) -> None:  # noqa: F811
    sid = SessionStore(r).create(user_id=user_id, username=name, roles=[role], unit_id=None, stage="full",
                                 address="127.0.0.1").sid
    page_log.page.context.add_cookies([{"name": "cc_session", "value": sid, "url": url}])


def test_hostile_names_render_as_text(web: Any, socket_url: str, page_log: PageLog, r: redis.Redis) -> None:  # noqa: F811
    _server, accounts, _engine, _ = web
    accounts.get("xss.victim") or accounts.create("test", "xss.victim", ["leadership"], display_name=XSS[:64])
    admin = accounts.get("sys.browser") or accounts.create("test", "sys.browser", ["system_admin"])[0]
    signed_in(page_log, socket_url, r, admin.id, admin.username, "system_admin")
    dialogs: list[str] = []
    page = page_log.page
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(socket_url + "/admin/users")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__xss === undefined"), "a hostile display name ran as script"
    assert dialogs == []
    assert XSS[:40] in page.inner_text("body"), "the name is shown as the text it is"
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "admin_users.png"), full_page=True)


def test_the_sign_in_page_and_a_wrong_password(web: Any, socket_url: str, page_log: PageLog) -> None:  # noqa: F811
    page = page_log.page
    page_log.allow_console_error(r"status of 401")  # the refused sign-in answers 401
    page.goto(socket_url + "/")
    assert page.url.endswith("/login")
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator(".au-error").inner_text() == "用户名或密码错误"
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "login_failed.png"))
