"""One formatting path for dates, times, numbers and money, in the reader's language.

The formats are Django's locale formats, set per language in ``customer360/formats/<lang>/``
(en: "13 Jan 2027", 1,234.50; de: "13.01.2027", 1.234,50). Templates use them through the filters in
``customer360.templatetags.c360`` (``day``, ``moment``, ``number``, ``money``), the timeline through
``customer360.events``, charts through ``plotly_locale``, CSV exports and e-mails by calling these
functions under the reader's language (``translation.override``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import formats, timezone, translation
from django.utils.dateparse import parse_date, parse_datetime

CENT = Decimal("0.01")

# --- caches: a timeline page renders 50 titles, the demo seed millions ---------------------------------
# Django's number_format and date_format look the language's formats up on every call (a chain of
# settings and module look-ups); a number or a day is formatted the same way every time in one language,
# so the separators are read once per language and formatted texts are kept (bounded, cleared on a
# settings change, as Django's own format cache is).
_CACHE_LIMIT = 50_000
_separators: dict[str | None, tuple[str, str, Any]] = {}
#: value types whose formatted text depends on the value alone (others are formatted on every call)
_CACHEABLE = frozenset({str, int, Decimal, float})
_texts: dict[tuple, str] = {}


@receiver(setting_changed)
def _reset_caches(**kwargs) -> None:
    _separators.clear()
    _texts.clear()


def _cache_key(kind: str, language: str | None, value: Any, option: Any) -> tuple | None:
    """The key of a formatted text, or None for a value whose text is not cached."""
    return (kind, language, type(value), value, option) if type(value) in _CACHEABLE else None


def _remember(key: tuple | None, text: str) -> str:
    if key is None:
        return text
    if len(_texts) >= _CACHE_LIMIT:
        _texts.clear()
    _texts[key] = text
    return text


def _separators_of(language: str | None) -> tuple[str, str, Any]:
    found = _separators.get(language)
    if found is None:
        found = _separators[language] = (
            formats.get_format("DECIMAL_SEPARATOR", language, use_l10n=True),
            formats.get_format("THOUSAND_SEPARATOR", language, use_l10n=True),
            formats.get_format("NUMBER_GROUPING", language, use_l10n=True),
        )
    return found


def _grouped(amount: Decimal, decimals: int, language: str | None) -> str:
    """What ``formats.number_format(amount, decimals, use_l10n=True, force_grouping=True)`` gives
    (decimals cut off, not rounded; groups of three), with the language's separators read once."""
    decimal_sep, thousand_sep, grouping = _separators_of(language)
    _, digits, exponent = amount.as_tuple()
    if grouping != 3 or not isinstance(exponent, int) or abs(exponent) + len(digits) > 200:
        # anything unusual (NaN, a huge exponent, another grouping): Django's own path
        return formats.number_format(amount, decimals, use_l10n=True, force_grouping=True)
    if abs(amount) < Decimal(1).scaleb(-max(decimals, 1)):
        amount = Decimal(0)  # too small for the decimals shown: Django shows zero
    text = f"{amount:f}"
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    whole, _, fraction = text.partition(".")
    fraction = fraction[:decimals].ljust(decimals, "0")
    whole = f"{int(whole):,}".replace(",", thousand_sep) if len(whole) > 3 else whole
    return f"{sign}{whole}{decimal_sep}{fraction}" if fraction else f"{sign}{whole}"


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def number(value: Any, decimals: int | None = None) -> str:
    """``1234.5`` -> "1,234.50" (en) / "1.234,50" (de); whole numbers without decimals unless asked."""
    return number_in(translation.get_language(), value, decimals)


def number_in(language: str | None, value: Any, decimals: int | None = None) -> str:
    """:func:`number` in ``language``, which must be the active language (a caller formatting many
    values looks it up once)."""
    if value is None or value == "":
        return "" if value is None else str(value)
    key = _cache_key("number", language, value, decimals)
    if key in _texts:
        return _texts[key]
    amount = _decimal(value)
    if amount is None:
        return str(value)
    if decimals is None:
        decimals = 0 if amount == amount.to_integral_value() else 2
    return _remember(key, _grouped(amount, decimals, language))


def money(value: Any, currency: str = "EUR") -> str:
    """``1240`` -> "EUR 1,240.00" (en) / "EUR 1.240,00" (de)."""
    return money_in(translation.get_language(), value, currency)


def money_in(language: str | None, value: Any, currency: str = "EUR") -> str:
    """:func:`money` in ``language``, which must be the active language."""
    if value is None or value == "":
        return "" if value is None else str(value)
    key = _cache_key("money", language, value, currency)
    if key in _texts:
        return _texts[key]
    amount = _decimal(value)
    if amount is None:
        return str(value)
    # Rounded to cents (half up): Django's number_format cuts further decimals off (65.4966 -> 65.49).
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return _remember(key, f"{currency or 'EUR'} {_grouped(amount, 2, language)}")


@lru_cache(maxsize=4096)
def _parsed(value: str) -> Any:
    return parse_datetime(value) or parse_date(value) or value


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        return _parsed(value)
    return value


def day(value: Any) -> str:
    """A date (or the local date of a moment) in the language's date format: 13 Jan 2027 / 13.01.2027."""
    return day_in(translation.get_language(), value)


def day_in(language: str | None, value: Any) -> str:
    """:func:`day` in ``language``, which must be the active language."""
    value = _parse(value)
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    if isinstance(value, date):
        key = ("day", language, value)
        text = _texts.get(key)
        if text is None:
            text = _remember(key, formats.date_format(value, "SHORT_DATE_FORMAT"))
        return text
    return "" if value is None else str(value)


def moment(value: Any) -> str:
    """A point in time, local: "13 Jan 2027, 14:05" / "13.01.2027, 14:05"; a plain date as ``day``."""
    value = _parse(value)
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return formats.date_format(value, "SHORT_DATETIME_FORMAT")
    return day(value)


def plotly_locale() -> dict:
    """Layout settings that make plotly figures format like the rest of the page: its
    ``separators`` (decimal, then thousands) and a d3 date format matching ``day``."""
    decimal_sep = formats.get_format("DECIMAL_SEPARATOR")
    thousands = formats.get_format("THOUSAND_SEPARATOR")
    date_format = {"d.m.Y": "%d.%m.%Y", "j M Y": "%-d %b %Y"}.get(
        formats.get_format("SHORT_DATE_FORMAT"), "%x"
    )
    return {"separators": f"{decimal_sep}{thousands}", "date_format": date_format}


_choice_labels: dict[tuple[int, str], dict] = {}


def choice_label(field, value: Any) -> str:
    """The label of ``value`` in a model field's choices, in the reader's language: what
    ``get_FOO_display`` gives, from a table built once per field and language (Django's own
    rebuilds and hashes every lazy label on each call, which a timeline page does 50 times)."""
    key = (id(field), translation.get_language() or "")
    table = _choice_labels.get(key)
    if table is None:
        table = _choice_labels[key] = {k: str(v) for k, v in field.flatchoices}
    return table.get(value, value)
