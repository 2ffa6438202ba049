"""Normalisation of names and contact data, so that every department finds the same customer."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})


def fold(text: str) -> str:
    """Lower-case ASCII form of a name: "Müller" and "Mueller" both become "mueller".

    Umlauts are transliterated the German way first, then remaining accents are stripped.
    """
    text = (text or "").translate(_GERMAN)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text.lower()).strip()


def fold_loose(text: str) -> str:
    """A looser form where "mueller", "muller" and "müller" meet: the German "e" after a vowel goes."""
    return re.sub(r"([aou])e", r"\1", fold(text))


#: Apostrophes as people type and print them: ASCII, typographic, backtick, modifier letter.
APOSTROPHES = "'\u2019\u2018`\u02bc"
_APOSTROPHE = re.compile(f"[{APOSTROPHES}]")


def fold_search(text: str) -> str:
    """:func:`fold` without apostrophes, for the search key and what is searched: "O'Connor",
    "O\u2019Connor" and "OConnor" all become "oconnor". pg_trgm splits words at punctuation, so the
    term "o'co" would ask the trigram index for the words "o" and "co" (nearly every customer);
    "oco" is selective."""
    return _APOSTROPHE.sub("", fold(text))


def normalise_email(value: str) -> str:
    return (value or "").strip().lower()


def normalise_tax_id(value: str) -> str:
    """A tax or VAT id as registers print it: letters and digits only, upper case
    ("atu 123 456-78" -> "ATU12345678"), so the ERP's and the shop's spelling meet."""
    return re.sub(r"[^0-9A-Z]", "", fold(value or "").upper())


def normalise_phone(value: str, region: str = "AT") -> str:
    """E.164 form of a phone number ("01 2345678" in Austria -> "+4312345678"); "" when unparseable."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, region or "AT")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def whole_number(text: str | None) -> int | None:
    """A non-negative whole number typed into a query string or form (an id, a count), else None.

    ASCII digits only, at most 18 of them: ``"²".isdigit()`` is true but ``int("²")`` fails, and more
    digits than PostgreSQL's bigint holds used to reach the database as a 500."""
    text = (text or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None
