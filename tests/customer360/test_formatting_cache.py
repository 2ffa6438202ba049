"""The cached formatters (customer360.formatting, customer360.events) give the texts Django's own
per-call locale machinery gives, in English and German, first call and cached call alike."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.test import override_settings
from django.utils import formats, translation

from billing import events as billing_events
from customer360 import formatting

VALUES = [
    0, 1, 7, 999, 1000, 1234, 1234567, -1, -1000, -1234567, 12345678901,
    "0", "0.00", "-0.00", "1240", "1240.00", "1033.33", "65.4966", "65.495", "0.004", "-0.004",
    "0.05", "-0.05", "-0.5", "999.999", "1000000.10", "-1234.5", "12.3456", "1E+3", "2.50E+2",
    Decimal("1234.5"), Decimal("-9876543.21"), Decimal("0.001"), Decimal("100"), Decimal("1.10"),
    1.5, 1234.5678, -0.25, 1e21,
]  # fmt: skip
ODD = [None, "", "abc", "NaN", "Infinity", [1, 2], {"a": 1}]


def _reference_number(value, decimals=None):
    """customer360.formatting.number as it was: Django's number_format on every call."""
    amount = formatting._decimal(value)
    if amount is None or value is None or value == "":
        return "" if value is None else str(value)
    if decimals is None:
        decimals = 0 if amount == amount.to_integral_value() else 2
    return formats.number_format(amount, decimals, use_l10n=True, force_grouping=True)


def _reference_money(value, currency="EUR"):
    amount = formatting._decimal(value)
    if amount is None or value is None or value == "":
        return "" if value is None else str(value)
    amount = amount.quantize(formatting.CENT, rounding=ROUND_HALF_UP)
    return f"{currency or 'EUR'} {formats.number_format(amount, 2, use_l10n=True, force_grouping=True)}"


@pytest.mark.parametrize("language", ["en", "de"])
def test_cached_number_and_money_match_djangos_formatting(language):
    with translation.override(language):
        for _round in range(2):  # the first call fills the cache, the second reads it
            for value in VALUES:
                for decimals in (None, 0, 1, 2):
                    assert formatting.number(value, decimals) == _reference_number(value, decimals), value
                assert formatting.money(value) == _reference_money(value), value
                assert formatting.money(value, "CHF") == _reference_money(value, "CHF"), value
        for value in ODD:  # the same text, or the same error
            for formatter, reference in (
                (formatting.number, _reference_number),
                (formatting.money, _reference_money),
            ):
                assert _outcome(formatter, value) == _outcome(reference, value), value


def _outcome(formatter, value):
    try:
        return formatter(value)
    except Exception as error:  # noqa: BLE001 - compared, not swallowed
        return type(error)


def test_the_languages_do_not_share_cached_texts():
    with translation.override("en"):
        assert formatting.money("1240") == "EUR 1,240.00"
        assert formatting.number("1234.5") == "1,234.50"
        assert formatting.day("2027-01-13") == "13 Jan 2027"
    with translation.override("de"):
        assert formatting.money("1240") == "EUR 1.240,00"
        assert formatting.number("1234.5") == "1.234,50"
        assert formatting.day("2027-01-13") == "13.01.2027"
    with translation.override("en"):
        assert formatting.money("1240") == "EUR 1,240.00"


@pytest.mark.parametrize("language", ["en", "de"])
def test_cached_day_matches_djangos_date_format(language):
    with translation.override(language):
        for _round in range(2):
            for value in (date(2027, 1, 13), "2027-01-13", "2026-12-31", date(2026, 5, 1)):
                parsed = date.fromisoformat(value) if isinstance(value, str) else value
                assert formatting.day(value) == formats.date_format(parsed, "SHORT_DATE_FORMAT")


def test_a_settings_change_clears_the_cached_separators():
    with translation.override("en"):
        assert formatting.number(1234) == "1,234"
        with override_settings(FORMAT_MODULE_PATH=None):
            assert formatting.number(1234) == _reference_number(1234)
        assert formatting.number(1234) == "1,234"


PAYLOADS = [
    (billing_events.INVOICE_ISSUED, {"invoice_id": 7, "number": "2026-0142", "currency": "EUR",
                                     "amount": "1240.00", "due_date": "2026-11-18"}),
    (billing_events.PAYMENT_RECEIVED, {"invoice_id": 7, "number": "2026-0142", "currency": "EUR", "payment_id": 3,
                                       "amount": "620.00", "open_amount": "620.00", "paid_in_full": False,
                                       "dunning_level": 1}),
    (billing_events.PAYMENT_RECEIVED, {"invoice_id": 7, "number": "2026-0142", "currency": "EUR", "payment_id": 4,
                                       "amount": "620.00", "open_amount": "0.00", "paid_in_full": True,
                                       "dunning_level": 0}),
    (billing_events.DUNNING_NOTICE, {"invoice_id": 7, "number": "2026-0142", "currency": "EUR", "level": 2,
                                     "amount": "1240.00", "open_amount": "1250.00", "fee": "10.00",
                                     "level_name": "Second reminder", "notice_channel": "letter",
                                     "days_overdue": 21}),
]  # fmt: skip


def _uncached_texts(kind, payload):
    """Title and summary as EventKind.texts made them before the caches."""
    values = {f.name: f.render(payload.get(f.name), payload) for f in kind.fields}
    title = kind.title(payload) if callable(kind.title) else kind.title
    summary = kind.summary(payload) if callable(kind.summary) else kind.summary
    return str(title) % values, (str(summary) % values if summary else "")


@pytest.mark.parametrize("language", ["en", "de"])
def test_cached_event_texts_match_the_uncached_ones(language):
    with translation.override(language):
        expected = [_uncached_texts(kind, payload) for kind, payload in PAYLOADS]
        for _round in range(2):
            assert [kind.texts(payload) for kind, payload in PAYLOADS] == expected
    with translation.override("en"):
        english = [_uncached_texts(kind, payload) for kind, payload in PAYLOADS]
    with translation.override(language):  # the stored texts are English whatever is active
        assert [kind.stored_texts(payload) for kind, payload in PAYLOADS] == english
    assert english[0][0] == "Invoice 2026-0142 issued: EUR 1,240.00, due 18 Nov 2026"
