"""Cursors for cursor-based paging (RFC 9865): opaque to the client, tamper-evident for us.

A cursor carries the list position after which the next page starts (the sort key of the
last resource sent: a keyset, never an offset) and when it was issued, signed with HMAC-SHA256
under a key the caller derives per company. The query's shape (resource type, filter, sort)
is signed with it but not written in it, so a cursor is valid only with the query it was
issued for, at the company it was issued by: anything else fails the signature and is
`invalidCursor`. A cursor older than CURSOR_TIMEOUT seconds is `expiredCursor`.

Format: base64url(JSON payload) "." base64url(first 16 bytes of the MAC), no padding: only
RFC 3986 unreserved characters, as RFC 9865 §2 requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from scim_protocol.errors import ExpiredCursor, InvalidCursor

# Seconds a cursor stays valid between page requests (ServiceProviderConfig
# pagination.cursorTimeout). Positions never go stale (they are keys, not offsets); the limit
# bounds how long a change to the cursor format or to what a sort means must stay readable.
CURSOR_TIMEOUT = 3600
# Longer is not a cursor we could have issued; refused before any decoding work.
MAX_CURSOR_LENGTH = 2048
_MAC_BYTES = 16
_VERSION = 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class CursorCodec:
    """Signs and reads cursors with `key` (bytes private to one company) at time `now`
    (seconds since the epoch; the caller's clock, so tests can move it)."""

    key: bytes
    now: float

    def _mac(self, payload: bytes, shape: str) -> bytes:
        message = payload + b"\x00" + shape.encode("utf-8", "surrogatepass")
        return hmac.new(self.key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, position: list[Any], shape: str) -> str:
        """The cursor for the page after `position` (JSON scalars) of the query `shape`."""
        payload = json.dumps(
            {"v": _VERSION, "p": position, "t": int(self.now)}, separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload, shape))}"

    def decode(self, cursor: str, shape: str) -> list[Any]:
        """The position a cursor of query `shape` carries. Raises InvalidCursor when it is not
        one this key signed for this shape, ExpiredCursor when it is older than
        CURSOR_TIMEOUT."""
        invalid = InvalidCursor(
            "The cursor is not one this server issued for this query (same filter and sort "
            "at the same endpoint): send an empty cursor to start from the first page."
        )
        if len(cursor) > MAX_CURSOR_LENGTH or cursor.count(".") != 1:
            raise invalid
        encoded, signature = cursor.split(".")
        try:
            payload, mac = _unb64(encoded), _unb64(signature)
        except (binascii.Error, ValueError):
            raise invalid from None
        # Only the canonical spelling: a last character differing in its unused low bits
        # decodes to the same bytes, and an edited cursor must never read as the original.
        if _b64(payload) != encoded or _b64(mac) != signature:
            raise invalid
        if not hmac.compare_digest(mac, self._mac(payload, shape)):
            raise invalid
        try:
            data = json.loads(payload)
        except ValueError:
            raise invalid from None
        if (
            not isinstance(data, dict)
            or data.get("v") != _VERSION
            or not isinstance(data.get("p"), list)
            or not isinstance(data.get("t"), int)
        ):
            raise invalid
        if self.now - data["t"] > CURSOR_TIMEOUT:
            raise ExpiredCursor(
                f"The cursor is older than {CURSOR_TIMEOUT} seconds (cursorTimeout): start "
                "again with an empty cursor."
            )
        return list(data["p"])
