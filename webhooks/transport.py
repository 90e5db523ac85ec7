"""One HTTP POST to an endpoint: resolved and checked against private addresses (SSRF),
connected to the address that was checked (no second DNS answer), bounded in time as a whole,
never following a redirect (http.client does not), reading at most an excerpt of the answer."""

from __future__ import annotations

import datetime as dt
import email.utils
import http.client
import io
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

EXCERPT_BYTES = 500


class UnsafeURL(ValueError):
    """The URL is not one we send to: not http(s), or it resolves to a non-public address."""


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, timed out, refused by the SSRF check)
    excerpt: str
    latency_ms: int
    # Seconds a 429 or 503 asked us to wait (its Retry-After), if it said so readably.
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# IPv6 prefixes that reach an IPv4 address through a translator (RFC 6052 NAT64, RFC 8215) or
# carry one (IPv4-compatible ::a.b.c.d): `is_global` judges the IPv6 wrapper, not the IPv4
# address behind it.
_NAT64 = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
)


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global address, and so is every IPv4 address it carries (mapped, 6to4, Teredo)."""
    if not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _NAT64):
            return False
        carried = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
        return all(inner is None or inner.is_global for inner in carried)
    return True


def resolve_checked(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address) of `url`, or UnsafeURL. Loopback and private addresses
    are refused unless WEBHOOK_ALLOW_PRIVATE_URLS (development and tests)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("The URL must be http:// or https:// with a host.")
    if parts.scheme == "http" and not settings.WEBHOOK_ALLOW_HTTP:
        raise UnsafeURL("The URL must be https://.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("The URL's port is not a port number (1-65535).") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise UnsafeURL(f"{parts.hostname} does not resolve.") from error
    addresses = [str(info[4][0]) for info in infos]
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        for address in addresses:
            if not _public(ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeURL(f"{parts.hostname} resolves to a non-public address.")
    return parts.scheme, parts.hostname, port, addresses[0]


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """A Retry-After header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) in seconds from
    `now`, at least 0; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() also takes "²", which float() refuses
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322, which HTTP-dates are
        when = when.replace(tzinfo=dt.UTC)
    return max((when - (now or dt.datetime.now(dt.UTC))).total_seconds(), 0.0)


class _Deadline:
    """The time left for the whole attempt. A socket timeout bounds one read or write, not the
    attempt: a receiver sending its answer a byte at a time would hold the worker for as long
    as it likes. So every socket operation is given what is left of the attempt instead."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left


class _DeadlineReader(io.RawIOBase):
    """The answer's bytes, each read bounded by what is left of the attempt."""

    def __init__(self, sock: socket.socket, deadline: _Deadline):
        self._sock, self._deadline = sock, deadline
        # Through the socket's own file, which keeps it open while the answer is read:
        # http.client closes the connection's socket before the body of a closing answer.
        self._file = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._deadline.left())
        return self._file.readinto(buffer)

    def close(self) -> None:
        self._file.close()
        super().close()


class _DeadlineSocket:
    """What `http.client.HTTPResponse` reads the status line, headers and body through."""

    def __init__(self, sock: socket.socket, deadline: _Deadline):
        self._sock, self._deadline = sock, deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


def _response_class(deadline: _Deadline) -> type[http.client.HTTPResponse]:
    class DeadlineResponse(http.client.HTTPResponse):
        def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any):
            super().__init__(_DeadlineSocket(sock, deadline), *args, **kwargs)  # type: ignore[arg-type]

    return DeadlineResponse


class _Pinned:
    """Connects to the address that was checked, within the attempt's deadline."""

    _address: str
    _deadline: _Deadline
    sock: socket.socket
    port: int

    def _pin(self, address: str, deadline: _Deadline) -> None:
        self._address, self._deadline = address, deadline
        self.response_class = _response_class(deadline)

    def _socket(self) -> socket.socket:
        return socket.create_connection((self._address, self.port), self._deadline.left())

    def send(self, data: Any) -> None:
        if self.sock is None:  # http.client connects on the first send
            self.connect()
        self.sock.settimeout(self._deadline.left())
        super().send(data)  # type: ignore[misc]


class _PinnedHTTP(_Pinned, http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, deadline: _Deadline):
        super().__init__(host, port)
        self._pin(address, deadline)

    def connect(self) -> None:
        self.sock = self._socket()


class _PinnedHTTPS(_Pinned, http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, deadline: _Deadline):
        super().__init__(host, port, context=ssl.create_default_context())
        self._pin(address, deadline)

    def connect(self) -> None:
        sock = self._socket()
        # The handshake is one call: CPython bounds it as a whole by the socket's timeout.
        sock.settimeout(self._deadline.left())
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body`; the answer's status and excerpt, or status None with the reason. The whole
    attempt (connecting, sending, the status line, headers and excerpt) ends within
    WEBHOOK_TIMEOUT_SECONDS of connecting, or fails with a TimeoutError."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        scheme, host, port, address = resolve_checked(url)
    except UnsafeURL as error:
        return Answer(None, str(error), elapsed())
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    seconds = settings.WEBHOOK_TIMEOUT_SECONDS
    connection = kind(host, port, address, _Deadline(seconds))
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace")
        retry_after = (
            retry_after_seconds(response.getheader("Retry-After"))
            if response.status in (429, 503)
            else None
        )
        return Answer(response.status, excerpt, elapsed(), retry_after)
    except TimeoutError:
        return Answer(None, f"TimeoutError: no complete answer within {seconds:g} s", elapsed())
    except (OSError, http.client.HTTPException) as error:
        return Answer(None, f"{type(error).__name__}: {error}"[:EXCERPT_BYTES], elapsed())
    finally:
        connection.close()
