"""The authorisation matrix: every route, Dash callback, Socket.IO event and push topic of the built app,
against anonymous, a person part-way through login and every role, allowed or refused as auth/access.py says.

Completeness first: a route, callback, socket event, topic or page without a rule fails here, so nothing
new reaches a browser without an access decision.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from auth import access
from tests.auth.conftest import origin
from auth.access import ANONYMOUS, Principal
from auth.roles import Role
from auth.sessions import SessionStore
from callbacks.screen_pages import RELAYOUT_ID
from streams.push import NAMESPACE
from streams.topics import TOPICS

PAGES_CALLBACK = ".._pages_content.children..._pages_store.data.."
# one concrete URL per route, to request as each principal
EXAMPLES = {
    "static": "/static/none.css",
    "_dash_assets.static": "/assets/live.css",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>":
        "/_dash-component-suites/dash/dcc/dash_core_components.v4_4_1m1.js",
    "/_favicon.ico": "/_favicon.ico",
    "/_dash-layout": "/_dash-layout",
    "/_dash-dependencies": "/_dash-dependencies",
    "/_reload-hash": "/_reload-hash",
    "/": "/",
    "/<path:path>": "/some/page",
    "health.healthz": "/healthz",
    "auth.login": "/login",
    "auth.no_access": "/no-access",
    "auth.whoami": "/whoami",
    "auth.second_factor": "/login/code",
    "auth.enrol": "/login/enrol",
    "auth.password": "/account/password",
    "auth.pair": "/pair/NOT-A-CODE",
    "auth.wall_revoked": "/wall-revoked",
    "sso.begin": "/login/sso",  # the provider is unreachable here: 502, but not refused
    "sso.callback": "/login/sso/callback",
    "admin.users": "/admin/users",
    "admin.audit": "/admin/audit",
    "admin.audit_export": "/admin/audit.csv",
    "admin.tokens": "/admin/tokens",
    "people.list": "/api/v1/people",
    "people.person": "/api/v1/people/P00001",
}
POST_ONLY = {"/_dash-update-component", "auth.logout", "ingest.submit", "admin.user_create", "admin.user_action",
             "admin.user_roles", "admin.user_unlock", "admin.token_issue", "admin.token_revoke"}

WHO = ["anonymous", "pending", "wall", "source", *[r.value for r in Role]]


@pytest.fixture(scope="module")
def socket_url(web: Any) -> str:
    """The same app served for real (the Socket.IO test client cannot run on a message queue)."""
    import socket
    import threading
    import time

    server, _accounts, _engine, socketio = web
    port = server.config["TEST_PORT"]
    threading.Thread(target=socketio.run, args=(server,), daemon=True,
                     kwargs={"host": "127.0.0.1", "port": port, "allow_unsafe_werkzeug": True, "use_reloader": False,
                             "log_output": False}).start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"http://127.0.0.1:{port}"


def sio_client(url: str, cookie: str | None, extra_cookies: dict[str, str] | None = None) -> Any:
    """A real python-socketio client (it sends its URL as Origin); connected, or None when refused."""
    import socketio as socketio_lib

    c = socketio_lib.Client(reconnection=False)
    jar = {**({"cc_session": cookie} if cookie else {}), **(extra_cookies or {})}
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
    try:
        c.connect(url, transports=["websocket"], namespaces=[NAMESPACE], headers=headers, wait_timeout=5)
    except socketio_lib.exceptions.ConnectionError:
        return None
    return c


@pytest.fixture
def app_(web: Any, r: redis.Redis) -> Any:
    server, _accounts, _engine, socketio = web
    return server, socketio, SessionStore(r)


def principal(who: str) -> Principal:
    if who == "anonymous":
        return ANONYMOUS
    if who == "pending":
        return Principal.person(99, "p", frozenset({Role.LEADERSHIP}), None, "password")
    if who == "wall":
        return Principal.wall("t", "playlist:leadership")
    if who == "source":
        return Principal.source("t", "system:canteen")
    return Principal.person(1, who, frozenset({Role(who)}), None, "full")


def session_of(store: SessionStore, who: str) -> str | None:
    p = principal(who)
    if p.kind != "person":
        return None
    return store.create(user_id=p.user_id, username=p.name, roles=[r.value for r in p.roles], unit_id=None,
                        stage=p.stage, address="127.0.0.1").sid


def cookies_of(server: Any, store: SessionStore, who: str) -> dict[str, str]:
    """The cookies a browser of `who` holds: a session, or a display cookie from a real pairing."""
    if who == "wall":
        _info, code = server.config["TEST_TOKENS"].issue_display("test", "playlist:leadership")
        c = server.test_client()
        c.get(f"/pair/{code}")
        return {"cc_wall": c.get_cookie("cc_wall").value}
    sid = session_of(store, who)
    return {"cc_session": sid} if sid else {}


def client_as(server: Any, store: SessionStore, who: str) -> Any:
    c = server.test_client()
    for k, v in cookies_of(server, store, who).items():
        c.set_cookie(k, v)
    if who == "source":  # an ingest client: a bearer token in a header, no cookies
        _info, bearer = server.config["TEST_TOKENS"].issue_source("test", "canteen")
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
    return c


def test_every_route_callback_event_topic_and_page_has_a_rule(app_: Any) -> None:
    server, socketio, store = app_
    client_as(server, store, "leadership").get("/_dash-layout")  # Dash registers its page callbacks on first use
    endpoints = {rule.endpoint for rule in server.url_map.iter_rules()}
    assert endpoints - set(access.ROUTES) == set(), "routes without an access rule"
    assert set(access.ROUTES) - endpoints == set(), "rules for routes that no longer exist"
    assert endpoints - POST_ONLY - set(EXAMPLES) == set(), "the matrix below needs an example URL"
    import dash

    assert {p.get("path_template") or p["path"] for p in dash.page_registry.values()} - set(access.PAGES) == set()
    handlers = set(socketio.server.handlers[NAMESPACE]) - {"disconnect"}
    assert handlers - set(access.SOCKET_EVENTS) == set(), "socket events without a rule"
    assert [t for t in TOPICS if access.topic_rule(t) is None] == [], "push topics without a rule"
    assert "screen:overview" in TOPICS, "the shipped screens register their topics"


@pytest.mark.parametrize("who", WHO)
def test_routes(app_: Any, who: str) -> None:
    server, _, store = app_
    c = client_as(server, store, who)
    p = principal(who)
    for endpoint, url in EXAMPLES.items():
        allowed = access.allows(access.ROUTES[endpoint], p)
        resp = c.get(url)
        refused = resp.headers.get("X-Access") == "denied"
        assert refused == (resp.status_code in (302, 401, 403)) or not refused
        assert refused != allowed, f"{who} GET {url}: {resp.status_code} {resp.headers.get('Location')}"


def pages_body(path: str, search: str = "") -> dict[str, Any]:
    """The request Dash Pages' router makes for `path` (what a browser's page load sends)."""
    return {"output": PAGES_CALLBACK, "outputs": [{"id": "_pages_content", "property": "children"},
                                                  {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search},
                       {"id": RELAYOUT_ID, "property": "data", "value": None}],  # set only by a hot reload
            "changedPropIds": ["_pages_location.pathname"], "state": []}


@pytest.mark.parametrize("who", WHO)
def test_callbacks_and_pages(app_: Any, who: str) -> None:
    server, _, store = app_
    c = client_as(server, store, who)
    p = principal(who)
    body = pages_body("/")
    resp = c.post("/_dash-update-component", json=body, headers={"Origin": origin(c)})
    assert (resp.status_code == 200) == access.allows(access.CALLBACKS[PAGES_CALLBACK], p), (who, resp.status_code)
    if resp.status_code == 200:
        shows_page = "no-access" not in resp.text
        assert shows_page == access.allows(access.PAGES["/"], p), f"{who} sees the live page: {shows_page}"
    forged = c.post("/_dash-update-component", json={**body, "output": "unknown-output.children"},
                    headers={"Origin": origin(c)})
    assert forged.status_code in (401, 403) and forged.headers["X-Access"] == "denied", "no rule: refused"


@pytest.mark.parametrize("who", WHO)
def test_sockets_and_topics(app_: Any, socket_url: str, who: str) -> None:
    server, _, store = app_
    p = principal(who)
    sock = sio_client(socket_url, None, extra_cookies=cookies_of(server, store, who))
    assert (sock is not None) == access.allows(access.SOCKET_EVENTS["connect"], p), who
    if sock is None:
        return
    for topic in sorted(TOPICS):
        ack = sock.call("subscribe", {"topics": [topic]}, namespace=NAMESPACE, timeout=10)
        refused = isinstance(ack, dict) and "not allowed" in str(ack.get("error", ""))
        assert refused != access.allows(access.topic_rule(topic) or "", p), (who, topic, ack)
    sock.disconnect()


def test_a_wall_subscribes_only_to_the_screens_it_is_paired_to(app_: Any, socket_url: str) -> None:
    server, _, _ = app_
    _info, code = server.config["TEST_TOKENS"].issue_display("test", "screen:overview")
    c = server.test_client()
    c.get(f"/pair/{code}")
    sock = sio_client(socket_url, None, extra_cookies={"cc_wall": c.get_cookie("cc_wall").value})
    assert sock is not None
    own = sock.call("subscribe", {"topics": ["screen:overview"]}, namespace=NAMESPACE, timeout=10)
    other = sock.call("subscribe", {"topics": ["screen:energy"]}, namespace=NAMESPACE, timeout=10)
    sock.disconnect()
    assert "error" not in own and own["topic"] == "screen:overview"
    assert "not allowed" in other["error"]


def test_a_socket_from_a_foreign_origin_is_refused(app_: Any, socket_url: str) -> None:
    import requests

    _, _, store = app_
    cookie = {"cc_session": session_of(store, "leadership") or ""}
    handshake = socket_url + "/socket.io/?EIO=4&transport=polling"
    foreign = requests.get(handshake, headers={"Origin": "http://evil.example"}, cookies=cookie, timeout=5)
    assert foreign.status_code == 400
    own = requests.get(handshake, headers={"Origin": socket_url}, cookies=cookie, timeout=5)
    assert own.status_code == 200 and own.text.startswith("0{")


def test_a_socket_closes_within_5_s_when_its_session_ends(app_: Any, socket_url: str) -> None:
    import time

    _, _, store = app_
    sock = sio_client(socket_url, session_of(store, "duty_officer"))
    assert sock is not None and sock.connected
    assert store.end_user(1) == 1
    ended = time.monotonic()
    while sock.connected and time.monotonic() - ended < 5:
        time.sleep(0.05)
    assert not sock.connected, "the sweeper must close the socket within 5 s"


def test_an_oversized_socket_message_closes_the_connection(app_: Any, socket_url: str) -> None:
    """Client-to-server messages are capped at 64 KiB (engine.io's default would be 1 MB)."""
    import time

    server, _, store = app_
    sock = sio_client(socket_url, None, extra_cookies=cookies_of(server, store, "duty_officer"))
    assert sock is not None
    sock.emit("subscribe", {"topics": ["x" * 100_000]}, namespace=NAMESPACE)
    deadline = time.monotonic() + 5
    while sock.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sock.connected
