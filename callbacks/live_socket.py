"""Socket.IO namespace /live: authenticated connections, authorised topic subscriptions, resync snapshots.

A page subscribes on connect and again after every reconnect; the snapshot it gets back is its
resync, so it never shows numbers from before an outage as current.

Flask-SocketIO hands handlers a copy of the session taken at connect time, so a logout over HTTP
would not end an open socket by itself (SECURITY.md). Here the handshake must carry a live
server-side session, every event re-reads it, and a sweeper closes every socket whose session
has ended (logout, timeout, disabled account, changed roles) within `sweep_s` seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import redis
from flask import request
from flask_socketio import SocketIO, join_room

from auth import access
from auth.sessions import SessionStore
from auth.web import principal_of
from streams.live_state import LiveState
from streams.push import NAMESPACE, room_of
from streams.topics import TOPICS, snapshot

log = logging.getLogger(__name__)

MAX_TOPICS = 16


class SocketSessions:
    """Which socket belongs to which session cookie, in this web process, and the sweeper that acts on it."""

    def __init__(self, socketio: SocketIO, sessions: SessionStore, cookie: str, sweep_s: float = 1.0):
        self.socketio, self.sessions, self.cookie, self.sweep_s = socketio, sessions, cookie, sweep_s
        self._by_sock: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def principal(self) -> access.Principal:
        return principal_of(self.sessions.get(request.cookies.get(self.cookie), touch=False))

    def add(self) -> None:
        with self._lock:
            self._by_sock[request.sid] = request.cookies.get(self.cookie, "")  # type: ignore[attr-defined]

    def remove(self) -> None:
        with self._lock:
            self._by_sock.pop(request.sid, None)  # type: ignore[attr-defined]

    def sweep(self) -> int:
        """Disconnect the sockets whose session has ended; returns how many."""
        with self._lock:
            pairs = list(self._by_sock.items())
        if not pairs:
            return 0
        try:
            alive = self.sessions.alive({c for _, c in pairs})
        except (redis.ConnectionError, redis.TimeoutError):
            return 0  # without Redis no session can be checked; the next sweep will
        ended = [sock for sock, c in pairs if not alive.get(c)]
        for sock in ended:
            self.socketio.server.disconnect(sock, namespace=NAMESPACE)
            with self._lock:
                self._by_sock.pop(sock, None)
        return len(ended)

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.sweep_s):
                try:
                    self.sweep()
                except Exception:  # noqa: BLE001 - the sweeper must outlive one bad round
                    log.exception("socket sweep failed")

        threading.Thread(target=loop, name="socket-sweeper", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def register_live_socket(socketio: SocketIO, live: LiveState, expect: Mapping[str, float], guard: SocketSessions,
                         clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
    @socketio.on("connect", namespace=NAMESPACE)
    def connect(_auth: Any = None) -> bool:
        who = guard.principal()
        if not access.allows(access.SOCKET_EVENTS["connect"], who):
            log.info("refused a /live connection from %s: no signed-in session", request.remote_addr)
            return False
        guard.add()
        return True

    @socketio.on("disconnect", namespace=NAMESPACE)
    def disconnect(_reason: Any = None) -> None:
        guard.remove()

    @socketio.on("subscribe", namespace=NAMESPACE)
    def subscribe(data: Any) -> dict[str, Any]:
        who = guard.principal()
        if not access.allows(access.SOCKET_EVENTS["subscribe"], who):
            return {"error": "session ended"}
        topics = data.get("topics") if isinstance(data, dict) else None
        if not isinstance(topics, list) or not topics or len(topics) > MAX_TOPICS:
            return {"error": "subscribe expects {topics: [name, ...]}"}
        unknown = [t for t in topics if not isinstance(t, str) or t not in TOPICS]
        if unknown:
            return {"error": f"unknown topics: {unknown[:5]}"}
        refused = [t for t in topics if not access.allows(access.TOPICS.get(t, "no rule"), who)]
        if refused:
            return {"error": f"not allowed: {refused[:5]}"}
        for t in topics:  # join first: an update between the read and the join would be lost
            join_room(room_of(t))
        try:
            snaps = {t: snapshot(live, TOPICS[t], clock(), expect) for t in topics}
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("snapshot failed: %s", exc)
            return {"error": "live state unavailable"}
        return snaps[topics[0]] if len(topics) == 1 else {"snapshots": snaps}
