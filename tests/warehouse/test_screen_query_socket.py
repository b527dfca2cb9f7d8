"""The `query` socket event on real Redis and a real warehouse (SQLite and PostgreSQL): a page gets the answers of
its screen's query bindings, and nothing the screen's YAML does not bind, whatever the browser sends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask_socketio import SocketIO
from sqlalchemy import Engine, delete, insert

from auth.sessions import SessionStore
from callbacks.live_socket import SocketSessions
from callbacks.screen_queries import register_screen_queries
from layouts.panels import query_id
from screens.model import Screen
from streams.push import NAMESPACE
from tests.warehouse.test_panel_queries import named  # noqa: F401 - fixture
from tests.warehouse.test_queries import SH, TUE, local, sales  # noqa: F401 - fixtures
from warehouse.models import Unit
from warehouse.ops import rollup_hourly_dim

COOKIE = "cc_session"
TITLE = {"zh": "标题", "en": "Title"}
SCREEN = Screen.model_validate({"schema_version": 1, "id": "hist", "title": TITLE, "params": {"kind": "sale"},
                                "panels": [
    {"id": "by_unit", "type": "ranking", "title": TITLE, "at": {"x": 0, "y": 0, "w": 6, "h": 3},
     "bind": {"query": "totals_by_dim", "params": {"schema": "shop.{kind}", "period": "last_7_days"}}},
    {"id": "quota", "type": "gauge", "title": TITLE, "at": {"x": 6, "y": 0, "w": 6, "h": 3}, "max": 10,
     "bind": {"query": "total_between", "params": {"schema": "shop.sale", "period": "today"}},
     "max_from": {"query": "electricity_quota_day"}, "thresholds": [{"above": 0.9, "color": "warn"}]}]})
BY_UNIT = query_id("totals_by_dim", {"schema": "shop.sale", "period": "last_7_days"})
QUOTA = query_id("electricity_quota_day", {})


@pytest.fixture
def sock(named: Engine, r: redis.Redis) -> Iterator[Any]:  # noqa: F811
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="threading")
    sessions = SessionStore(r)
    guard = SocketSessions(socketio, sessions, COOKIE)
    socketio.on("connect", namespace=NAMESPACE)(lambda _auth=None: True)
    register_screen_queries(socketio, named, r, lambda: {"hist": SCREEN}, guard.principal, SH,
                            wall_topics=lambda _scope: frozenset(), clock=lambda: local(TUE, 10, 20))
    session = sessions.create(user_id=1, username="viewer", roles=["leadership"], unit_id=None, stage="full",
                              address="127.0.0.1")
    client = socketio.test_client(app, namespace=NAMESPACE, headers={"Cookie": f"{COOKIE}={session.sid}"})
    yield client
    client.disconnect(namespace=NAMESPACE)


def ask(sock: Any, body: Any) -> Any:
    return sock.emit("query", body, namespace=NAMESPACE, callback=True)


def test_answers_the_screens_bindings_and_nothing_else(sock: Any, named: Engine) -> None:  # noqa: F811
    forged = query_id("totals_by_dim", {"schema": "auth.audit", "period": "last_7_days"})
    got = ask(sock, {"screen": "hist", "ids": [BY_UNIT, QUOTA, forged]})["answers"]
    assert [(r["label"], r["value"]) for r in got[BY_UNIT]["rows"]] == [("办公厅", 3.0), ("财政局", 1.0)]
    assert got[QUOTA]["value"] > 4000 and got[QUOTA]["t"] == int(local(TUE, 10, 20).timestamp() * 1000)
    assert got[forged] == {"error": "no such query binding"}
    # a declared param may be overridden by a slide; the filled binding must still be one the screen has
    other = query_id("totals_by_dim", {"schema": "shop.other", "period": "last_7_days"})
    assert ask(sock, {"screen": "hist", "ids": [other], "params": {"kind": "other"}})["answers"][other]["rows"] == []
    assert ask(sock, {"screen": "hist", "ids": [BY_UNIT], "params": {"nope": "x"}})["answers"][BY_UNIT]["rows"]
    assert ask(sock, {"screen": "nope", "ids": [BY_UNIT]}) == {"error": "no screen 'nope'"}
    assert ask(sock, ["x"]) == {"error": "query expects {screen, ids: [query id, ...], params?, lang?}"}


def test_answers_come_from_a_short_cache(sock: Any, named: Engine) -> None:  # noqa: F811
    first = ask(sock, {"screen": "hist", "ids": [BY_UNIT]})["answers"][BY_UNIT]
    with named.begin() as conn:
        conn.execute(delete(rollup_hourly_dim))
        conn.execute(insert(Unit), [{"id": "U09", "name": "新单位", "name_en": "New", "building_id": "B01"}])
    assert ask(sock, {"screen": "hist", "ids": [BY_UNIT]})["answers"][BY_UNIT] == first
    english = ask(sock, {"screen": "hist", "ids": [BY_UNIT], "lang": "en"})["answers"][BY_UNIT]
    assert english["rows"] == []  # another language is another entry, computed now
