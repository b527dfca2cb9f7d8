"""Socket.IO namespace /live: authenticated connections, authorised topic subscriptions, resync snapshots.

A page subscribes on connect and again after every reconnect; the snapshot it gets back is its
resync, so it never shows numbers from before an outage as current. A subscription names all of a
page's topics (a screen page subscribes again, on the same socket, after a hot-reloaded layout).

Flask-SocketIO hands handlers a copy of the session taken at connect time, so a logout over HTTP
would not end an open socket by itself (SECURITY.md). Here the handshake must carry a live
server-side session (or a paired wall's display cookie), every event re-reads it, and a sweeper
closes every socket whose session has ended (logout, timeout, disabled account, changed roles) or
whose wall was revoked, within `sweep_s` seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis
from flask import request
from flask_socketio import SocketIO, join_room, leave_room, rooms
from sqlalchemy.exc import SQLAlchemyError

from auth import access
from auth.sessions import SessionStore
from auth.web import principal_of
from callbacks.screen_topics import topic_name
from streams.live_state import LiveState
from streams.push import NAMESPACE, room_of
from streams.shared_read import SharedReads
from streams.topics import TOPICS, snapshot

log = logging.getLogger(__name__)

MAX_TOPICS = 16
ROOM_PREFIX = room_of("")


class SocketSessions:
    """Which socket belongs to which session or paired wall, in this web process, and the sweeper acting on it."""

    def __init__(self, socketio: SocketIO, sessions: SessionStore, cookie: str, sweep_s: float = 1.0, *,
                 wall_cookie: str = "cc_wall", wall_of: Callable[[str | None], access.Principal | None] | None = None,
                 revoked: Callable[[Iterable[str]], set[str]] | None = None):
        self.socketio, self.sessions, self.cookie, self.sweep_s = socketio, sessions, cookie, sweep_s
        self.wall_cookie, self.wall_of, self.revoked = wall_cookie, wall_of, revoked
        self._by_sock: dict[str, tuple[str, str]] = {}  # socket id -> ("session", cookie) | ("wall", token id)
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def principal(self) -> access.Principal:
        """From the server-side session (re-read on every event), else from a paired wall's cookie."""
        who = principal_of(self.sessions.get(request.cookies.get(self.cookie), touch=False))
        if who.kind == "anonymous" and self.wall_of is not None:
            who = self.wall_of(request.cookies.get(self.wall_cookie)) or who
        return who

    def add(self, who: access.Principal) -> None:
        entry = ("wall", who.name) if who.kind == "wall" else ("session", request.cookies.get(self.cookie, ""))
        with self._lock:
            self._by_sock[request.sid] = entry  # type: ignore[attr-defined]

    def remove(self) -> None:
        with self._lock:
            self._by_sock.pop(request.sid, None)  # type: ignore[attr-defined]

    def sweep(self) -> int:
        """Disconnect the sockets whose session has ended or whose wall was revoked; returns how many."""
        with self._lock:
            pairs = list(self._by_sock.items())
        if not pairs:
            return 0
        cookies = {v for _, (k, v) in pairs if k == "session"}
        walls = {v for _, (k, v) in pairs if k == "wall"}
        try:
            alive = self.sessions.alive(cookies) if cookies else {}
            gone = self.revoked(walls) if walls and self.revoked is not None else set()
        except (redis.ConnectionError, redis.TimeoutError, SQLAlchemyError):
            return 0  # nothing can be checked now; the next sweep will
        ended = [sock for sock, (k, v) in pairs if (k == "session" and not alive.get(v)) or (k == "wall" and v in gone)]
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
                         clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC), *,
                         wall_topics: Callable[[str], frozenset[str]] = lambda _scope: frozenset({"overview"})) -> None:
    """`wall_topics(scope)`: the topics a wall paired to that playlist or screen may subscribe to.

    Subscribers of a topic share its snapshot reads (streams/shared_read.py): after a restart every wall
    resubscribes at once, and each gets a read that began after it joined its room."""
    reads = SharedReads()

    @socketio.on("connect", namespace=NAMESPACE)
    def connect(_auth: Any = None) -> bool:
        who = guard.principal()
        if not access.allows(access.SOCKET_EVENTS["connect"], who):
            log.info("refused a /live connection from %s: no signed-in session or paired wall", request.remote_addr)
            return False
        guard.add(who)
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
        known = {t: topic for t in topics  # read once: a screen reload may swap them meanwhile
                 if isinstance(t, str) and (topic := TOPICS.get(t)) is not None}
        unknown = [t for t in topics if not isinstance(t, str) or t not in known]
        if unknown:
            return {"error": f"unknown topics: {unknown[:5]}"}
        refused = [t for t in topics if not access.allows(access.topic_rule(t) or "no rule", who)
                   or (who.kind == "wall" and t not in wall_topics(who.scope))]
        if refused:
            return {"error": f"not allowed: {refused[:5]}"}
        # a subscription names all of the page's topics: rooms of topics it no longer shows (a slide taken out
        # of a reloaded playlist) are left; join first, as an update between the read and the join would be lost
        wanted = {room_of(t) for t in topics}
        for room in rooms():
            if room.startswith(ROOM_PREFIX) and room not in wanted:
                leave_room(room)
        for room in wanted:
            join_room(room)
        try:
            snaps = {t: reads.get(topic, lambda topic=topic: snapshot(live, topic, clock(), expect))
                     for t, topic in known.items()}
        except (redis.ConnectionError, redis.TimeoutError, TimeoutError) as exc:
            log.warning("snapshot failed: %s", exc)
            return {"error": "live state unavailable"}
        return snaps[topics[0]] if len(topics) == 1 else {"snapshots": snaps}


def announce_screen_change(socketio: SocketIO, version: int, screen_ids: Iterable[str]) -> None:
    """Tell the pages showing any of `screen_ids` that their layout changed (`screen_changed`): they fetch the
    new layout and swap it in on the same socket. One message per screen to its own room, so a page (a wall)
    hears only of screens it may show. Through the message queue, so every web process's pages hear it;
    several web processes each announce their own reload, and a page coalesces the repeats."""
    for screen_id in sorted(set(screen_ids)):
        socketio.emit("screen_changed", {"version": version, "screen": screen_id},
                      to=room_of(topic_name(screen_id)), namespace=NAMESPACE)
