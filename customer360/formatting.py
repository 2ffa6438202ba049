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
from typing import Any

from django.utils import formats, timezone, translation
from django.utils.dateparse import parse_date, parse_datetime

CENT = Decimal("0.01")


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def number(value: Any, decimals: int | None = None) -> str:
    """``1234.5`` -> "1,234.50" (en) / "1.234,50" (de); whole numbers without decimals unless asked."""
    amount = _decimal(value)
    if amount is None or value is None or value == "":
        return "" if value is None else str(value)
    if decimals is None:
        decimals = 0 if amount == amount.to_integral_value() else 2
    return formats.number_format(amount, decimals, use_l10n=True, force_grouping=True)


def money(value: Any, currency: str = "EUR") -> str:
    """``1240`` -> "EUR 1,240.00" (en) / "EUR 1.240,00" (de)."""
    amount = _decimal(value)
    if amount is None or value is None or value == "":
        return "" if value is None else str(value)
    # Rounded to cents (half up): Django's number_format cuts further decimals off (65.4966 -> 65.49).
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return f"{currency or 'EUR'} {formats.number_format(amount, 2, use_l10n=True, force_grouping=True)}"


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        return parse_datetime(value) or parse_date(value) or value
    return value


def day(value: Any) -> str:
    """A date (or the local date of a moment) in the language's date format: 13 Jan 2027 / 13.01.2027."""
    value = _parse(value)
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    if isinstance(value, date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
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
