"""Validation of individual attribute values: their length, email addresses (Django's
validator) and identifiers' invisible ends. Countries, time zones and
languages are normalised rather than validated: scim_protocol/locales.py."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from scim_protocol.errors import InvalidValue


def text_within(value: str, attribute: str, limit: int) -> str:
    """`value` when it has at most `limit` characters; raises InvalidValue naming the
    attribute and the limit otherwise (without quoting the value: it may be megabytes)."""
    if len(value) > limit:
        raise InvalidValue(
            f"{attribute} is {len(value):,} characters long; at most {limit:,} are accepted."
        )
    return value


def email_address(value: str) -> str | None:
    """`value` without surrounding white space when it is an email address, else None.
    Django's validator, which takes internationalised domains; a local part with non-ASCII
    letters (RFC 6531: "jöhn@exämple.com") is checked as Django checks an ASCII one, its
    letters standing for ASCII ones."""
    text = trimmed(value)
    if _valid(text):
        return text
    local, at, domain = text.rpartition("@")
    if at and not local.isascii() and all(c.isascii() or c.isalnum() for c in local):
        stand_in = "".join(c if c.isascii() else "a" for c in local)
        if _valid(f"{stand_in}@{domain}"):
            return text
    return None


def _valid(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def trimmed(text: str) -> str:
    """`text` without white space or invisible format characters (zero-width space, byte-order
    mark, Unicode category Cf) at either end: pasted identifiers often carry them."""
    start, end = 0, len(text)
    while start < end and _blank(text[start]):
        start += 1
    while end > start and _blank(text[end - 1]):
        end -= 1
    return text[start:end]


def _blank(character: str) -> bool:
    return character.isspace() or unicodedata.category(character) == "Cf"
