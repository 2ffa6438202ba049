"""The exchange-rate table an admin maintains: one rate at a time, or a CSV file of rates."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import ExchangeRate
from customer360.sources.mapping import CoercionError, to_date, to_decimal

MAX_RATE = Decimal("9999999999")  # ExchangeRate.rate: 18 digits, 8 of them decimals


def exchange_rate_save(*, currency: str, valid_from, rate: Decimal, actor=None) -> ExchangeRate:
    """Set the rate of ``currency`` from ``valid_from`` on (a rate for the same day is replaced)."""
    obj, _created = ExchangeRate.objects.update_or_create(
        currency=currency.strip().upper(), valid_from=valid_from, defaults={"rate": rate, "created_by": actor}
    )
    return obj


def _parse_line(cells: list[str]) -> tuple[tuple | None, str]:
    if len(cells) < 3:
        return None, _("needs three columns: currency, date, rate")
    currency, day_text, rate_text = (cell.strip() for cell in cells[:3])
    currency = currency.upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        return None, _('"%(value)s" is not a currency code (ISO 4217, e.g. GBP)') % {"value": currency}
    try:
        valid_from = to_date(day_text)
    except CoercionError:
        return None, _('"%(value)s" is not a date') % {"value": day_text}
    try:
        rate = to_decimal(rate_text)
    except CoercionError:
        rate = None
    if rate is None or not Decimal("0.00000001") <= rate <= MAX_RATE:
        return None, _('"%(value)s" is not a rate above 0') % {"value": rate_text}
    return (currency, valid_from, rate.quantize(Decimal("0.00000001"))), ""


def exchange_rates_import(*, text: str, actor=None) -> tuple[int, list[str]]:
    """Rates from CSV text (currency, date, rate; ',' or ';'; a header line is skipped). Every good
    line is saved, every bad one named with its line number and reason. Returns ``(saved, problems)``."""
    delimiter = ";" if text.count(";") > text.count(",") else ","
    saved, problems = 0, []
    with transaction.atomic():
        for number, cells in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
            if not any(cell.strip() for cell in cells):
                continue
            parsed, problem = _parse_line(cells)
            if parsed is None:
                if number == 1:  # the header
                    continue
                problems.append(_("Line %(line)s: %(problem)s") % {"line": number, "problem": problem})
                continue
            currency, valid_from, rate = parsed
            exchange_rate_save(currency=currency, valid_from=valid_from, rate=rate, actor=actor)
            saved += 1
    return saved, problems
