"""Countries, time zones and languages as directories really hold them, turned into the one
form we store: ISO 3166-1 alpha-2, IANA zone names, BCP 47 tags with an ISO 639-1 language.

Identity providers copy these from free-text directory fields (Entra's `country` is typed by
people: "United States", "USA", "U.K."), from Windows ("Pacific Standard Time") or from POSIX
locales ("en_US.UTF-8"). A value with one meaning is normalised; each function returns None for
a value it cannot place, and the caller decides whether that drops the value or refuses the
request (a company's strict mode). The data is the libraries' (pycountry, CLDR's windowsZones
as tzlocal ships it, langcodes with language-data), behind these three functions, so a library
can be swapped without touching the callers. Pure Python; nothing here knows about HTTP or
storage.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from functools import cache, lru_cache

import langcodes
import pycountry
from tzlocal.windows_tz import win_tz

# Names people write that ISO 3166 does not use (its names are "United Kingdom of Great
# Britain and Northern Ireland", "Russian Federation" …). Only names with one meaning: "Korea"
# or "Congo" alone are left to fail rather than guessed. Keys are in _folded() form.
_COUNTRY_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "united states": "US",
    "america": "US",
    "united states of america": "US",
    "russia": "RU",
    "turkey": "TR",
    "ivory coast": "CI",
    "holland": "NL",
    "macedonia": "MK",
    "brunei": "BN",
    "cape verde": "CV",
    "swaziland": "SZ",
    "burma": "MM",
    "vatican": "VA",
    "vatican city": "VA",
    "palestine": "PS",
    "micronesia": "FM",
    "east timor": "TL",
    "uae": "AE",
    "dr congo": "CD",
    "drc": "CD",
    "democratic republic of the congo": "CD",
    "congo-kinshasa": "CD",
    "republic of the congo": "CG",
    "congo-brazzaville": "CG",
    "south korea": "KR",
    "north korea": "KP",
    "macau": "MO",
    "laos": "LA",
}

# Longest text we try to read as a name; longer values are not a country or a language.
_MAX_NAME = 100
# A directory repeats a few values across its users (one country for most of them): the
# answers are kept per process, bounded (a few hundred KB at most).
_REMEMBERED = 4096


def _folded(text: str) -> str:
    """Case, accents, dots and surrounding words that carry no meaning removed: "The
    Netherlands", "U.S.A.", "Türkiye" and "turkiye" compare equal to what pycountry holds."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = re.sub(r"\s+", " ", plain.replace(".", "").replace(",", ", ")).strip()
    return plain.removeprefix("the ")


@cache
def _countries() -> dict[str, str]:
    """Every spelling we accept (folded) -> alpha-2."""
    table: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("alpha_2", "alpha_3", "numeric", "name", "official_name", "common_name"):
            spelling = getattr(country, attribute, None)
            if spelling:
                table.setdefault(_folded(spelling), country.alpha_2)
    for alias, code in _COUNTRY_ALIASES.items():
        table.setdefault(alias, code)
    return table


@lru_cache(maxsize=_REMEMBERED)
def country_alpha_2(value: str) -> str | None:
    """The ISO 3166-1 alpha-2 code `value` names: a code in any case ("us"), an alpha-3 code
    ("USA"), a numeric code ("840", "40" for Austria's "040"), the English name, official or
    common name ("United States", "Federal Republic of Germany", "Bolivia") or a common alias
    ("UK", "Russia"); None when it names no country or more than one."""
    if len(value) > _MAX_NAME:
        return None
    key = _folded(value)
    if key.isdigit():
        key = key.zfill(3)
    return _countries().get(key)


@cache
def _time_zones() -> dict[str, str]:
    """IANA names (and Windows names, mapped by CLDR) by their lower case -> IANA name."""
    available = zoneinfo.available_timezones()
    table = {name.lower(): name for name in available}
    for windows, iana in win_tz.items():
        if iana in available:
            table.setdefault(windows.lower(), iana)
    return table


@lru_cache(maxsize=_REMEMBERED)
def iana_time_zone(value: str) -> str | None:
    """The IANA zone `value` names: an IANA name in any case ("america/los_angeles"), or a
    Windows zone name ("Pacific Standard Time" -> "America/Los_Angeles", CLDR's mapping for the
    zone's main territory); None otherwise."""
    if len(value) > _MAX_NAME:
        return None
    return _time_zones().get(re.sub(r"\s+", " ", value.strip()).lower())


@cache
def iso_639_1() -> frozenset[str]:
    return frozenset(
        language.alpha_2 for language in pycountry.languages if hasattr(language, "alpha_2")
    )


@lru_cache(maxsize=_REMEMBERED)
def language_tag(value: str) -> str | None:
    """A BCP 47 tag whose language subtag is ISO 639-1, in canonical case: tags as written
    ("en-US", "en-us"), POSIX locales ("en_US", "pt_BR.UTF-8", "sr_RS@latin"), 3-letter
    codes with a 2-letter one ("eng", "deu"), deprecated codes ("iw" -> "he"), and language
    names in English or in the language itself ("English", "Deutsch", "français"). None for
    anything else, including languages without an ISO 639-1 code ("Klingon")."""
    text = value.strip()
    if not text or len(text) > _MAX_NAME:
        return None
    # POSIX locales: "pt_BR.UTF-8", "sr_RS@latin"; the encoding and modifier are not language.
    tag = re.split(r"[.@]", text, maxsplit=1)[0].replace("_", "-")
    return _as_tag(tag) or _as_name(text)


def _as_tag(tag: str) -> str | None:
    if not tag:
        return None
    try:
        if not langcodes.tag_is_valid(tag):
            return None
        # Normalised first ("iw" -> "he", "eng" -> "en"); as written when normalising leaves
        # ISO 639-1 ("tl" -> "fil").
        candidates = [langcodes.Language.get(tag), langcodes.Language.get(tag, normalize=False)]
    except (ValueError, LookupError):
        return None
    for language in candidates:
        if language.language in iso_639_1():
            return language.to_tag()
    return None


def _as_name(text: str) -> str | None:
    try:
        language = langcodes.find(text)
    except (ValueError, LookupError):
        return None
    # A name can carry a region ("Brazilian Portuguese" -> pt-BR): keep it when it is valid.
    return _as_tag(language.to_tag())
