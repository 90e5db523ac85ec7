"""Checks on parsed JSON that must happen before anything reaches PostgreSQL: nesting depth,
and characters text columns cannot hold (U+0000, unpaired surrogates)."""

from __future__ import annotations

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


def check_json(value: Any) -> None:
    """Raise InvalidSyntax for JSON nested deeper than MAX_DEPTH, InvalidValue for a string
    (key or value) holding NUL or an unpaired surrogate. The recursion stops at MAX_DEPTH, so
    a deeper body costs no more stack than that."""
    if isinstance(value, dict | list):
        _check_members(value, 1)
    elif isinstance(value, str) and unstorable(value):
        raise InvalidValue(_UNSTORABLE)


def _check_members(container: dict[Any, Any] | list[Any], depth: int) -> None:
    """Check the members (keys and values) of `container`, which are `depth` levels deep.

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
            elif isinstance(child, dict | list):
                _check_members(child, depth + 1)
            if isinstance(key, str) and ("\x00" in key or (not key.isascii() and unstorable(key))):
                raise InvalidValue(_UNSTORABLE)
    else:
        for child in reversed(container):
            if isinstance(child, str):
                if "\x00" in child or (not child.isascii() and unstorable(child)):
                    raise InvalidValue(_UNSTORABLE)
            elif isinstance(child, dict | list):
                _check_members(child, depth + 1)
