"""Checks on parsed JSON that must happen before anything reaches PostgreSQL: nesting depth,
and characters text columns cannot hold (U+0000, unpaired surrogates)."""

from __future__ import annotations

from typing import Any

from scim_protocol.errors import InvalidSyntax, InvalidValue

MAX_DEPTH = 32


def unstorable(text: str) -> bool:
    """True when `text` has a character PostgreSQL text/jsonb refuses: NUL, or a lone
    surrogate (which is not valid UTF-8)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_json(value: Any) -> None:
    """Raise InvalidSyntax for JSON nested deeper than MAX_DEPTH, InvalidValue for a string
    (key or value) holding NUL or an unpaired surrogate. Iterative: depth costs no stack."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidSyntax(f"The JSON body is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(item, str):
            if unstorable(item):
                raise InvalidValue(
                    "A string holds a NUL character or an unpaired surrogate: it cannot be stored."
                )
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, depth + 1))
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
