"""A blackholing TCP proxy on loopback: 127.0.0.1:<port> -> 127.0.0.1:<target>.

Normal mode forwards bytes both ways. `cut()` turns it into a black hole, the way a dead
switch or a dropped route looks to both ends: new connections are still accepted but never
connected onwards, and every byte of every connection (old and new) is read and thrown away,
in both directions, without closing anything, so the ends see silence and only their own
timeouts can tell. `heal()` forwards again for new connections and closes the connections that
lived through the cut: bytes were dropped from their streams, so forwarding on them would
desynchronise the protocol (real TCP would retransmit instead; closing is the nearest a
byte-dropping proxy can get, and no client is left waiting on a reply that will never come).
"""

from __future__ import annotations

import socket
import threading


class _Link:
    def __init__(self, client: socket.socket, upstream: socket.socket | None):
        self.client, self.upstream = client, upstream
        self.stale = False  # lived through a cut: drop everything, close at heal
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for s in (self.client, self.upstream):
            if s is None:
                continue
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class BlackholeProxy:
    def __init__(self, target_port: int, *, host: str = "127.0.0.1", port: int = 0):
        self.target = (host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.black = False
        self.links: list[_Link] = []
        self.dropped_bytes = 0
        self._lock = threading.Lock()
        self._running = True
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    # --- control ---------------------------------------------------------------------------------------
    def cut(self) -> None:
        with self._lock:
            self.black = True
            for link in self.links:
                link.stale = True

    def heal(self) -> int:
        """Forward again; returns how many connections that lived through the cut were closed."""
        with self._lock:
            self.black = False
            stale = [link for link in self.links if link.stale]
            self.links = [link for link in self.links if not link.stale and not link.closed]
        for link in stale:
            link.close()
        return len(stale)

    def close(self) -> None:
        self._running = False
        try:
            self.listener.close()
        except OSError:
            pass
        with self._lock:
            links, self.links = self.links, []
        for link in links:
            link.close()

    # --- plumbing --------------------------------------------------------------------------------------
    def _accept(self) -> None:
        while self._running:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                black = self.black
            upstream = None
            if not black:
                try:
                    upstream = socket.create_connection(self.target, timeout=2)
                    upstream.settimeout(None)
                    upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    client.close()  # the target is down: refuse like it would
                    continue
            link = _Link(client, upstream)
            with self._lock:
                link.stale = self.black
                self.links.append(link)
            threading.Thread(target=self._pump, args=(link, client, upstream), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=self._pump, args=(link, upstream, client), daemon=True).start()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket | None) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                link.close()
                return
            if link.stale or self.black or dst is None:
                self.dropped_bytes += len(data)
                continue
            try:
                dst.sendall(data)
            except OSError:
                link.close()
                return
