"""scim_protocol/cursor.py without a database: what a cursor carries, and what refuses it."""

from __future__ import annotations

import pytest

from scim_protocol.cursor import CURSOR_TIMEOUT, CursorCodec
from scim_protocol.errors import ExpiredCursor, InvalidCursor

KEY = b"k" * 32


def test_a_cursor_round_trips_its_position_for_its_shape() -> None:
    codec = CursorCodec(KEY, 1_000_000)

    cursor = codec.encode(["smith", 42, True, "2026-01-01T00:00:00+00:00"], "User|None|userName|")

    assert codec.decode(cursor, "User|None|userName|") == [
        "smith",
        42,
        True,
        "2026-01-01T00:00:00+00:00",
    ]
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor


def test_another_shape_or_key_is_invalid() -> None:
    cursor = CursorCodec(KEY, 0).encode([1], "User|None||")

    with pytest.raises(InvalidCursor):
        CursorCodec(KEY, 0).decode(cursor, "Group|None||")
    with pytest.raises(InvalidCursor):
        CursorCodec(b"other" * 8, 0).decode(cursor, "User|None||")


def test_any_edit_of_the_last_character_is_invalid() -> None:
    # 16 signature bytes leave unused low bits in the last base64 character: only the
    # canonical spelling may decode, or an edited cursor would pass as the original.
    codec = CursorCodec(KEY, 0)
    cursor = codec.encode([7], "User|None||")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    for character in alphabet.replace(cursor[-1], ""):
        with pytest.raises(InvalidCursor):
            codec.decode(cursor[:-1] + character, "User|None||")
    for character in alphabet.replace(cursor.split(".")[0][-1], ""):
        payload, signature = cursor.split(".")
        with pytest.raises(InvalidCursor):
            codec.decode(f"{payload[:-1]}{character}.{signature}", "User|None||")


def test_expiry_is_checked_after_the_signature() -> None:
    cursor = CursorCodec(KEY, 0).encode([1], "s")

    assert CursorCodec(KEY, CURSOR_TIMEOUT).decode(cursor, "s") == [1]
    with pytest.raises(ExpiredCursor):
        CursorCodec(KEY, CURSOR_TIMEOUT + 1).decode(cursor, "s")
    with pytest.raises(InvalidCursor):
        CursorCodec(KEY, CURSOR_TIMEOUT + 1).decode(cursor + "A", "s")


@pytest.mark.parametrize(
    "cursor", ["", ".", "a.b.c", "%%%.%%%", "é.é", "\ud800.x", "eyJ2IjoxfQ.AAAA", "x" * 3000]
)
def test_malformed_cursors_are_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        CursorCodec(KEY, 0).decode(cursor, "s")
