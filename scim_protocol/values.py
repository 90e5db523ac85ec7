"""Validation of individual attribute values: their length, and with well-kept libraries
language tags (langcodes), ISO 3166 countries (pycountry), email addresses (Django's
validator), IANA time zones (zoneinfo). Each returns the value to store or raises
InvalidValue."""

from __future__ import annotations

import zoneinfo
from functools import cache

import langcodes
import pycountry
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


def language_tag(value: str, attribute: str) -> str:
    """A BCP 47 tag whose language is ISO 639-1 (two letters): "en", "en-US", "fr-CA".
    `en_US` is accepted as written (a common locale spelling)."""
    tag = value.replace("_", "-")
    language = tag.split("-")[0].lower()
    try:
        valid = langcodes.tag_is_valid(tag)
    except (ValueError, LookupError):
        valid = False
    # The language subtag itself must be ISO 639-1; langcodes alone would also accept 3-letter
    # codes, and it rewrites some 2-letter ones (tl -> fil).
    if not valid or language not in _iso_639_1():
        raise InvalidValue(
            f'{attribute} must be a language tag based on an ISO 639-1 code, such as "en" or '
            f'"en-US"; got "{value}".'
        )
    return value


@cache
def _iso_639_1() -> frozenset[str]:
    return frozenset(
        language.alpha_2 for language in pycountry.languages if hasattr(language, "alpha_2")
    )


def country_code(value: str) -> str:
    """An ISO 3166-1 alpha-2 country code, returned upper-case."""
    if len(value) != 2 or pycountry.countries.get(alpha_2=value.upper()) is None:
        raise InvalidValue(
            "addresses.country must be an ISO 3166-1 alpha-2 code such as "
            f'"US" or "DE"; got "{value}".'
        )
    return value.upper()


def email_address(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError:
        raise InvalidValue(f'emails.value must be an email address; got "{value}".') from None
    return value


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone(value: str) -> str:
    if value not in _time_zones():
        raise InvalidValue(
            f'timezone must be an IANA time zone such as "America/Los_Angeles"; got "{value}".'
        )
    return value
