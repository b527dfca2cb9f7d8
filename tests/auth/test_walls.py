"""Paired walls: a one-time pairing URL becomes a long-lived display cookie bound to one wall; the cookie
sees that wall only, read-only; revoking it ends its socket within 5 s and the page learns it was revoked."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from tests.auth.conftest import origin
from tests.auth.test_matrix import PAGES_CALLBACK, pages_body, sio_client, socket_url  # noqa: F401


@pytest.fixture
def walls(web: Any, r: redis.Redis) -> Any:
    server, _accounts, _engine, _socketio = web
    return server, server.config["TEST_TOKENS"]


def paired(server: Any, tokens: Any, scope: str = "playlist:leadership") -> tuple[Any, str, str]:
    info, code = tokens.issue_display("test", scope, "lobby wall")
    c = server.test_client()
    resp = c.get(f"/pair/{code}")
    assert resp.status_code == 302 and resp.headers["Location"] == f"/wall/{scope.split(':')[1]}?kiosk=1"
    cookie = resp.headers["Set-Cookie"]
    assert "cc_wall=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie and code not in cookie
    return c, info.id, code


def test_a_pairing_code_works_once(walls: Any) -> None:
    server, tokens = walls
    _c, _id, code = paired(server, tokens)
    again = server.test_client().get(f"/pair/{code}")
    assert again.status_code == 403 and "配对失败" in again.text
    assert server.test_client().get("/pair/NOT-A-CODE").status_code == 403


def test_a_wall_sees_its_own_wall_only(walls: Any) -> None:
    server, tokens = walls
    c, _id, _ = paired(server, tokens)
    assert c.get("/_dash-layout").status_code == 200
    own = c.post("/_dash-update-component", json=pages_body("/wall/leadership", "?kiosk=1"),
                 headers={"Origin": origin(c)})
    assert own.status_code == 200 and "sc-kiosk" in own.text and "no-access" not in own.text
    other = c.post("/_dash-update-component", json=pages_body("/wall/overview"), headers={"Origin": origin(c)})
    assert other.status_code == 200 and "no-access" in other.text
    home = c.post("/_dash-update-component", json=pages_body("/"), headers={"Origin": origin(c)})
    assert "no-access" in home.text, "a wall cookie is not a person: no live overview, no admin, no account pages"
    assert c.get("/", headers={"Accept": "text/html"}).status_code in (302, 403)
    assert c.get("/account/password").status_code in (302, 403)


def test_revoking_blanks_the_wall_within_5_s(walls: Any, socket_url: str) -> None:  # noqa: F811
    server, tokens = walls
    c, token_id, _ = paired(server, tokens)
    cookie = c.get_cookie("cc_wall").value
    sock = sio_client(socket_url, None, extra_cookies={"cc_wall": cookie})
    assert sock is not None
    ack = sock.call("subscribe", {"topics": ["overview"]}, namespace="/live", timeout=10)
    assert isinstance(ack, dict) and "error" not in ack
    tokens.revoke("test", token_id)
    revoked = time.monotonic()
    while sock.connected and time.monotonic() - revoked < 5:
        time.sleep(0.05)
    assert not sock.connected, "a revoked wall's socket must close within 5 s"
    who = c.get("/whoami")
    assert who.status_code == 401 and who.get_json()["wall_revoked"] is True
    assert c.get("/_dash-layout").status_code == 401
    assert sio_client(socket_url, None, extra_cookies={"cc_wall": cookie}) is None
