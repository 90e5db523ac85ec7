"""Real HTTP receivers for webhook tests: a threaded server on a loopback port that records
every request and answers as told (2xx, 500, or is stopped: connection refused), and one that
answers a byte at a time."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
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
    # When set, the status for each request body (say, a refusal of one company's events).
    status_of: Callable[[bytes], int] | None = None
    headers: dict[str, str] = field(default_factory=dict)  # sent with every answer

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
                    status = receiver.status_of(body) if receiver.status_of else receiver.status
                    if 200 <= status < 300:
                        receiver.received.append(Received(dict(self.headers.items()), body))
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
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


@contextmanager
def dripping(answer: bytes, *, every: float, after: int = 0) -> Iterator[str]:
    """A receiver that reads the request, then sends `answer` fast up to byte `after` and one
    byte every `every` seconds from there: a slow or hostile endpoint. Yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)  # a close does not wake a blocked accept(): it looks at `stop`
    stop = threading.Event()

    def answer_one(connection: socket.socket) -> None:
        with connection:
            connection.settimeout(30)
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
            while len(body) < length:
                body += connection.recv(65536)
            try:
                connection.sendall(answer[:after])
                for at in range(after, len(answer)):
                    if stop.wait(every):
                        return
                    connection.sendall(answer[at : at + 1])
            except OSError:
                return  # the sender gave up: what the test is for

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=answer_one, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    finally:
        stop.set()
        listener.close()
