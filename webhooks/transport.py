"""One HTTP POST to an endpoint: resolved and checked against private addresses (SSRF),
connected to the address that was checked (no second DNS answer), bounded in time, never
following a redirect (http.client does not), reading at most an excerpt of the answer."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
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


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
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
    connection = kind(host, port, address, settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace")
        return Answer(response.status, excerpt, elapsed())
    except (OSError, http.client.HTTPException) as error:
        return Answer(None, f"{type(error).__name__}: {error}"[:EXCERPT_BYTES], elapsed())
    finally:
        connection.close()
