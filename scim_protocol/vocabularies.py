"""Value lists published as `canonicalValues` in /Schemas, so clients (Entra's schema
discovery, conformance testers) can offer values this server accepts. From libraries, never
hand-written tables."""

from __future__ import annotations

import zoneinfo

import pycountry

from scim_protocol import locales

# Only codes stored as sent: a deprecated code ("sh") is stored as its replacement, and a
# client that sends a published value expects to read the same value back.
ISO_639_1_LANGUAGES: tuple[str, ...] = tuple(
    sorted(
        language.alpha_2
        for language in pycountry.languages
        if hasattr(language, "alpha_2")
        and locales.language_tag(language.alpha_2) == language.alpha_2
    )
)
ISO_3166_ALPHA_2: tuple[str, ...] = tuple(
    sorted(country.alpha_2 for country in pycountry.countries)
)
IANA_TIME_ZONES: tuple[str, ...] = tuple(sorted(zoneinfo.available_timezones()))
