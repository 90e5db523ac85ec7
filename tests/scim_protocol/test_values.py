"""Value validation agrees with what /Schemas publishes as canonicalValues."""

from __future__ import annotations

import pytest

from scim_protocol import values
from scim_protocol.errors import InvalidValue
from scim_protocol.vocabularies import IANA_TIME_ZONES, ISO_639_1_LANGUAGES, ISO_3166_ALPHA_2


def test_every_published_value_is_accepted() -> None:
    for code in ISO_639_1_LANGUAGES:
        values.language_tag(code, "preferredLanguage")
    for code in ISO_3166_ALPHA_2:
        values.country_code(code.lower())
    for zone in IANA_TIME_ZONES:
        values.time_zone(zone)
    assert len(ISO_639_1_LANGUAGES) > 150 and len(ISO_3166_ALPHA_2) > 240


@pytest.mark.parametrize("tag", ["en", "en-US", "en_US", "fr-CA", "zh-Hant-TW", "tl"])
def test_language_tags_accepted(tag: str) -> None:
    assert values.language_tag(tag, "preferredLanguage") == tag


@pytest.mark.parametrize("tag", ["english", "xx", "tlh", "e", "en-", "", "123"])
def test_language_tags_refused(tag: str) -> None:
    with pytest.raises(InvalidValue, match="ISO 639-1"):
        values.language_tag(tag, "preferredLanguage")
