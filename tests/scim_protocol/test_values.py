"""Value normalisation agrees with what /Schemas publishes as canonicalValues: every
published value is stored as published."""

from __future__ import annotations

from scim_protocol import locales
from scim_protocol.vocabularies import IANA_TIME_ZONES, ISO_639_1_LANGUAGES, ISO_3166_ALPHA_2


def test_every_published_value_is_kept_as_published() -> None:
    for code in ISO_639_1_LANGUAGES:
        assert locales.language_tag(code) == code
    for code in ISO_3166_ALPHA_2:
        assert locales.country_alpha_2(code.lower()) == code
    for zone in IANA_TIME_ZONES:
        assert locales.iana_time_zone(zone) == zone
    assert len(ISO_639_1_LANGUAGES) > 150 and len(ISO_3166_ALPHA_2) > 240
