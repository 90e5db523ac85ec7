"""Validation of individual attribute values: their length, and email addresses (Django's
validator). Each returns the value to store or raises InvalidValue. Countries, time zones and
languages are normalised rather than validated: scim_protocol/locales.py."""

from __future__ import annotations

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


def email_address(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError:
        raise InvalidValue(f'emails.value must be an email address; got "{value}".') from None
    return value
