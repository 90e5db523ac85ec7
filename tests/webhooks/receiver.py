"""A real HTTP receiver for webhook tests: a threaded server on a loopback port that records
every request and answers as told (2xx, 500, or is stopped: connection refused)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.live import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    status: int = 204
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    # While set, requests wait (the sender is stuck mid-delivery), then get a 500 unrecorded.
    hold: threading.Event | None = None
    held: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hold = receiver.hold
                if hold is not None:
                    receiver.held.set()
                    hold.wait(120)
                    self.send_response(500)
                    self.end_headers()
                    return
                with receiver.lock:
                    status = receiver.status
                    if 200 <= status < 300:
                        receiver.received.append(Received(dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if status >= 300 else b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def accepted(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@contextmanager
def receiving(status: int = 204) -> Iterator[Receiver]:
    receiver = Receiver(port=free_port(), status=status)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
