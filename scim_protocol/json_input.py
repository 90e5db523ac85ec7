"""Checks on parsed JSON that must happen before anything reaches PostgreSQL: nesting depth,
and characters text columns cannot hold (U+0000, unpaired surrogates); and text in one
Unicode form, so that the same name is the same string however it was typed."""

from __future__ import annotations

import unicodedata
from typing import Any

from scim_protocol.errors import InvalidSyntax, InvalidValue

MAX_DEPTH = 32
_TOO_DEEP = f"The JSON body is nested more than {MAX_DEPTH} levels deep."
_UNSTORABLE = "A string holds a NUL character or an unpaired surrogate: it cannot be stored."


def unstorable(text: str) -> bool:
    """True when `text` has a character PostgreSQL text/jsonb refuses: NUL, or a lone
    surrogate (which is not valid UTF-8)."""
    if "\x00" in text:
        return True
    if text.isascii():  # no surrogate, and no encoding to try
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_and_normalize_json(value: Any) -> None:
    """Raise InvalidSyntax for JSON nested deeper than MAX_DEPTH, InvalidValue for a string
    (key or value) holding NUL or an unpaired surrogate. The recursion stops at MAX_DEPTH, so
    a deeper body costs no more stack than that.

    Also puts every string value of a container in Unicode NFC, in place: "José" typed with a
    combining accent (NFD, as macOS tools and some exports write it) is the same userName,
    filter value or display name as the precomposed one Okta and Entra send, rather than a
    second user. NFC changes no character's meaning (canonical equivalence)."""
    if isinstance(value, dict | list):
        _check_members(value, 1)
    elif isinstance(value, str) and unstorable(value):
        raise InvalidValue(_UNSTORABLE)


def nfc(text: str) -> str:
    """`text` in Unicode NFC (see check_and_normalize_json); ASCII is returned as it is."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def _check_members(container: dict[Any, Any] | list[Any], depth: int) -> None:
    """Check the members (keys and values) of `container`, which are `depth` levels deep,
    and put its non-ASCII string values in NFC.

    Last member first, a value before its key, as a stack of members meets them: a body with
    several faults is refused for the same one as ever. Strings are checked here rather than
    in a call each (NUL, then a surrogate only in a non-ASCII string): a body is mostly short
    ASCII strings, whose check costs less than a call."""
    if not container:
        return
    if depth > MAX_DEPTH:
        raise InvalidSyntax(_TOO_DEEP)
    if isinstance(container, dict):
        for key, child in reversed(container.items()):
            if isinstance(child, str):
                if "\x00" in child or (not child.isascii() and unstorable(child)):
                    raise InvalidValue(_UNSTORABLE)
                if not child.isascii():
                    container[key] = nfc(child)  # a value replaced: the dict keeps its size
            elif isinstance(child, dict | list):
                _check_members(child, depth + 1)
            if isinstance(key, str) and ("\x00" in key or (not key.isascii() and unstorable(key))):
                raise InvalidValue(_UNSTORABLE)
    else:
        for index in range(len(container) - 1, -1, -1):
            child = container[index]
            if isinstance(child, str):
                if "\x00" in child or (not child.isascii() and unstorable(child)):
                    raise InvalidValue(_UNSTORABLE)
                if not child.isascii():
                    container[index] = nfc(child)
            elif isinstance(child, dict | list):
                _check_members(child, depth + 1)
