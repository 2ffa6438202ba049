"""Country and currency names as ISO codes: "United Kingdom", "Österreich" and "AT" become "GB"/"AT",
"Euro", "€" and "eur" become "EUR".

The names come from babel's CLDR data in English and German (the languages of this product), plus
the spellings of real exports that CLDR does not list ("EIRE", "USA", "UK"). A name that is not a
country (a region such as "European Community", "Channel Islands") is refused, not guessed.
"""

from __future__ import annotations

from functools import cache

from customer360.text import fold

#: CLDR territories with two letters that are not countries (unknown, EU, eurozone, UN, pseudo).
_NOT_COUNTRIES = {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"}
_LANGUAGES = ("en", "de")
_COUNTRY_SPELLINGS = {
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "grossbritannien": "GB",
    "england und wales": "GB",
    "eire": "IE",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "united states of america": "US",
    "vereinigte staaten von amerika": "US",
    "rsa": "ZA",
    "czech republic": "CZ",
    "tschechische republik": "CZ",
    "holland": "NL",
    "russian federation": "RU",
    "republic of korea": "KR",
    "south korea": "KR",
    "suedkorea": "KR",
}
_CURRENCY_SYMBOLS = {"€": "EUR", "£": "GBP", "$": "USD", "us$": "USD", "fr.": "CHF", "sfr": "CHF", "¥": "JPY"}


@cache
def _countries() -> dict[str, str]:
    from babel import Locale

    lookup: dict[str, str] = {}
    for language in _LANGUAGES:
        for code, name in Locale(language).territories.items():
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
                lookup[fold(name)] = code
                lookup[code.lower()] = code
    lookup.update(_COUNTRY_SPELLINGS)
    return lookup


@cache
def _currencies() -> dict[str, str]:
    from babel import Locale
    from babel.numbers import list_currencies

    codes = list_currencies()
    lookup = {code.lower(): code for code in codes}
    for language in _LANGUAGES:
        for code, name in Locale(language).currencies.items():
            if code in codes:
                lookup.setdefault(fold(name), code)
    lookup.update({"euro": "EUR", "euros": "EUR", **_CURRENCY_SYMBOLS})
    return lookup


def country_code(value: str) -> str | None:
    """The ISO 3166 alpha-2 code of a country name (English or German) or code; None if unknown."""
    return _countries().get(fold(value))


def currency_code(value: str) -> str | None:
    """The ISO 4217 code of a currency code, name (English or German) or symbol; None if unknown."""
    text = value.strip()
    return _currencies().get(text) or _currencies().get(fold(text))
