"""The /live side of hot reload on real Redis: a page subscribing again on the same socket (its new layout) leaves
the rooms of topics it no longer shows, and `screen_changed` reaches the rooms of the changed screens only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from flask import Flask
from flask_socketio import SocketIO

from auth.sessions import SessionStore
from callbacks.live_socket import SocketSessions, announce_screen_change, register_live_socket
from streams.live_state import LiveState
from streams.push import NAMESPACE, room_of
from streams.topics import TOPICS, Topic, replace_topics

COOKIE = "cc_session"


@pytest.fixture
def client(r: redis.Redis) -> Iterator[tuple[SocketIO, Any]]:
    """A leadership viewer's socket on a web app with the screen topics `screen:a` and `screen:b`."""
    saved = dict(TOPICS)
    replace_topics("screen:", [Topic("screen:a", sums=("canteen.meals",)), Topic("screen:b", sums=("canteen.*",))])
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="threading")
    sessions = SessionStore(r)
    register_live_socket(socketio, LiveState(r, ZoneInfo("Asia/Shanghai")), {}, SocketSessions(socketio, sessions,
                                                                                                 COOKIE))
    session = sessions.create(user_id=1, username="viewer", roles=["leadership"], unit_id=None, stage="full",
                              address="127.0.0.1")
    sock = socketio.test_client(app, namespace=NAMESPACE, headers={"Cookie": f"{COOKIE}={session.sid}"})
    assert sock.is_connected(NAMESPACE)
    yield socketio, sock
    sock.disconnect(namespace=NAMESPACE)
    TOPICS.clear()
    TOPICS.update(saved)


def received(sock: Any, event: str) -> list[Any]:
    return [m["args"][0] for m in sock.get_received(NAMESPACE) if m["name"] == event]


def subscribe(sock: Any, *topics: str) -> Any:
    return sock.emit("subscribe", {"topics": list(topics)}, namespace=NAMESPACE, callback=True)


def test_subscribing_again_leaves_the_rooms_of_topics_no_longer_shown(client: tuple[SocketIO, Any]) -> None:
    socketio, sock = client
    assert set(subscribe(sock, "screen:a", "screen:b")["snapshots"]) == {"screen:a", "screen:b"}
    assert subscribe(sock, "screen:a")["topic"] == "screen:a"
    sock.get_received(NAMESPACE)
    for topic in ("screen:a", "screen:b"):
        socketio.emit("update", {"topic": topic}, to=room_of(topic), namespace=NAMESPACE)
    assert received(sock, "update") == [{"topic": "screen:a"}]


def test_screen_changed_reaches_only_the_pages_of_changed_screens(client: tuple[SocketIO, Any]) -> None:
    socketio, sock = client
    subscribe(sock, "screen:a", "screen:b")
    sock.get_received(NAMESPACE)
    announce_screen_change(socketio, 3, ["b", "a", "c"])
    announce_screen_change(socketio, 4, ["c"])
    assert received(sock, "screen_changed") == [{"version": 3, "screen": "a"}, {"version": 3, "screen": "b"}]


def test_a_topic_removed_by_a_reload_is_refused(client: tuple[SocketIO, Any]) -> None:
    _, sock = client
    replace_topics("screen:", [Topic("screen:a")])
    assert subscribe(sock, "screen:a", "screen:b") == {"error": "unknown topics: ['screen:b']"}
