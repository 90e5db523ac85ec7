"""A TCP relay that can be cut: what a database restart or failover looks like from the
application, on demand.

Point a server at the relay's port instead of PostgreSQL's. `cut()` drops every open
connection (both ends are shut down, so the server sees its connection lost mid-use) and
refuses new ones until `restore()`. Used by the database-outage test and by the soak run
(`make soak`).
"""

from __future__ import annotations

import contextlib
import socket
import threading


class Relay:
    """Relays 127.0.0.1:`port` to `target`; `cut()` drops every connection and refuses new
    ones, `restore()` accepts again, `close()` stops listening."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.up = True
        self.accepted = 0
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, name="relay", daemon=True)
        self._thread.start()

    @property
    def open_connections(self) -> int:
        """Relayed connections now open (two sockets each)."""
        with self._lock:
            return len(self._sockets) // 2

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, server}
                self.accepted += 1
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        # One side ended: end the other too, and forget both (a long run opens many).
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        with self._lock:
            for end in (source, sink):
                if end in self._sockets:
                    self._sockets.discard(end)
                    end.close()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until `restore()`."""
        self.up = False
        with self._lock:
            for end in self._sockets:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self._sockets.clear()

    def restore(self) -> None:
        """Accept and relay new connections again."""
        self.up = True

    def close(self) -> None:
        """Cut, and stop listening."""
        self._stopping = True
        self.cut()
        self.listener.close()
        self._thread.join(2)
