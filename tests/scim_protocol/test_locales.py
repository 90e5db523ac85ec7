"""Countries, time zones and languages as directories hold them are normalised to the one
form we store; what has no one meaning is dropped with a warning (or refused when the
company is strict), never stored as sent."""

from __future__ import annotations

from typing import Any

import pytest

from scim_protocol import locales
from scim_protocol.errors import InvalidValue
from scim_protocol.user_input import MAX_QUOTED, UserPolicy, normalized_user


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("US", "US"),
        ("us", "US"),
        ("United States", "US"),  # Entra's free-text country
        ("  united   states ", "US"),
        ("United States of America", "US"),  # official name
        ("Federal Republic of Germany", "DE"),
        ("Bolivia", "BO"),  # common name (ISO's is "Bolivia, Plurinational State of")
        ("Viet Nam", "VN"),
        ("USA", "US"),  # alpha-3
        ("deu", "DE"),
        ("840", "US"),  # numeric
        ("40", "AT"),  # numeric without its leading zero ("040")
        ("UK", "GB"),  # aliases
        ("U.S.A.", "US"),
        ("Great Britain", "GB"),
        ("Russia", "RU"),
        ("The Netherlands", "NL"),
        ("Türkiye", "TR"),
        ("Turkiye", "TR"),  # without the accent
        ("Bermuda", "BM"),
    ],
)
def test_countries_become_alpha_2(sent: str, stored: str) -> None:
    assert locales.country_alpha_2(sent) == stored


@pytest.mark.parametrize("sent", ["Atlantis", "Korea", "EU", "ZZ", "1234", "", "x" * 500])
def test_what_names_no_single_country_is_none(sent: str) -> None:
    assert locales.country_alpha_2(sent) is None


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Pacific Standard Time", "America/Los_Angeles"),  # Windows zone names
        ("pacific standard time", "America/Los_Angeles"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("China Standard Time", "Asia/Shanghai"),
        ("America/Los_Angeles", "America/Los_Angeles"),
        ("america/los_angeles", "America/Los_Angeles"),
        ("UTC", "UTC"),
    ],
)
def test_time_zones_become_iana(sent: str, stored: str) -> None:
    assert locales.iana_time_zone(sent) == stored


@pytest.mark.parametrize("sent", ["Mars/Olympus", "(UTC-08:00) Pacific Time (US & Canada)", ""])
def test_unknown_time_zones_are_none(sent: str) -> None:
    assert locales.iana_time_zone(sent) is None


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("en", "en"),
        ("en-US", "en-US"),
        ("en-us", "en-US"),
        ("en_US", "en-US"),  # POSIX spellings
        ("pt_BR.UTF-8", "pt-BR"),
        ("sr_RS@latin", "sr-RS"),
        ("zh-Hant-TW", "zh-Hant-TW"),
        ("fr-CA", "fr-CA"),
        ("tl", "tl"),  # langcodes would rewrite it to "fil", which is not ISO 639-1
        ("eng", "en"),  # ISO 639-2 with an ISO 639-1 code
        ("iw", "he"),  # deprecated code
        ("English", "en"),  # language names, in English or in the language itself
        ("english", "en"),
        ("German", "de"),
        ("Deutsch", "de"),
        ("français", "fr"),
        ("Brazilian Portuguese", "pt-BR"),
    ],
)
def test_languages_become_bcp_47_with_an_iso_639_1_base(sent: str, stored: str) -> None:
    assert locales.language_tag(sent) == stored


@pytest.mark.parametrize("sent", ["Klingon", "tlh", "xx", "e", "en-", "123", "C", "x-foo", ""])
def test_languages_without_an_iso_639_1_code_are_none(sent: str) -> None:
    assert locales.language_tag(sent) is None


def _user(**attributes: Any) -> dict[str, Any]:
    return {"userName": "ada@acme.test", **attributes}


def test_the_stored_user_holds_the_normalised_values() -> None:
    result = normalized_user(
        _user(
            preferredLanguage="English",
            locale="en_US",
            timezone="Pacific Standard Time",
            addresses=[{"type": "work", "country": "United States", "locality": "Seattle"}],
        ),
        UserPolicy(),
    )

    assert result.resource["preferredLanguage"] == "en"
    assert result.resource["locale"] == "en-US"
    assert result.resource["timezone"] == "America/Los_Angeles"
    assert result.resource["addresses"] == [
        {"type": "work", "country": "US", "locality": "Seattle"}
    ]
    assert result.dropped == ()


def test_unknown_values_are_dropped_with_a_warning_that_says_what_to_map() -> None:
    result = normalized_user(
        _user(
            preferredLanguage="Klingon",
            timezone="Mars/Olympus",
            addresses=[
                {"type": "work", "country": "Atlantis", "locality": "Poseidonis"},
                {"type": "home", "country": "Lemuria"},
            ],
        ),
        UserPolicy(),
    )

    assert "preferredLanguage" not in result.resource
    assert "timezone" not in result.resource
    # The work address keeps its city; the home address held nothing else and is gone.
    assert result.resource["addresses"] == [{"type": "work", "locality": "Poseidonis"}]
    warned = {dropped.attribute: dropped for dropped in result.dropped}
    assert set(warned) == {
        "preferredLanguage",
        "timezone",
        'addresses[type eq "work"].country',
        'addresses[type eq "home"].country',
    }
    assert warned['addresses[type eq "work"].country'].sent == "Atlantis"
    assert "ISO 3166-1" in warned['addresses[type eq "work"].country'].advice
    assert "identity provider" in warned["timezone"].advice


def test_a_long_dropped_value_is_quoted_cut() -> None:
    result = normalized_user(_user(timezone="z" * 1000), UserPolicy())

    (dropped,) = result.dropped
    assert len(dropped.sent) == MAX_QUOTED and dropped.sent.endswith("…")


@pytest.mark.parametrize(
    ("attributes", "named"),
    [
        ({"preferredLanguage": "Klingon"}, "ISO 639-1"),
        ({"addresses": [{"country": "Atlantis"}]}, "ISO 3166-1"),
        ({"timezone": "Mars/Olympus"}, "IANA"),
    ],
)
def test_a_strict_company_refuses_what_cannot_be_normalised(
    attributes: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidValue, match=named):
        normalized_user(_user(**attributes), UserPolicy(strict=True))


def test_a_strict_company_still_gets_what_has_one_meaning_normalised() -> None:
    result = normalized_user(
        _user(addresses=[{"country": "United States"}], timezone="Pacific Standard Time"),
        UserPolicy(strict=True),
    )

    assert result.resource["addresses"] == [{"country": "US"}]
    assert result.resource["timezone"] == "America/Los_Angeles"


def test_core_attributes_nested_under_the_core_urn_are_read() -> None:
    core = "urn:ietf:params:scim:schemas:core:2.0:User"

    result = normalized_user(
        {"schemas": [core], core: {"userName": "ada@acme.test", "name": {"givenName": "Ada"}}},
        UserPolicy(),
    )

    assert result.resource["userName"] == "ada@acme.test"
    assert result.resource["name"] == {"givenName": "Ada"}
