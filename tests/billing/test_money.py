"""Money arithmetic: per-line rounding half-up to cents, totals from the lines."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.models import InvoiceLine, format_money, money
from tests.billing.factories import make_invoice


def test_money_rounds_half_up_to_cents():
    assert money("0.005") == Decimal("0.01")
    assert money("2.675") == Decimal("2.68")  # float would give 2.67
    assert money("-0.005") == Decimal("-0.01")
    assert money("1.004") == Decimal("1.00")


def test_line_amounts_round_each_step():
    line = InvoiceLine(quantity=Decimal("3"), unit_price=Decimal("0.35"), tax_rate=Decimal("20.00"))
    assert line.net_amount == Decimal("1.05")
    assert line.tax_amount == Decimal("0.21")
    assert line.gross_amount == Decimal("1.26")
    odd = InvoiceLine(quantity=Decimal("1.5"), unit_price=Decimal("0.33"), tax_rate=Decimal("10.00"))
    assert odd.net_amount == Decimal("0.50")  # 0.495 -> 0.50 (half up)
    assert odd.tax_amount == Decimal("0.05")


def test_format_money_in_english_and_german():
    assert format_money(Decimal("1240")) == "EUR 1,240.00"
    assert format_money(Decimal("1234567.891"), language="de") == "EUR 1.234.567,89"


@pytest.mark.django_db
def test_invoice_totals_are_computed_from_lines(customer):
    invoice = make_invoice(
        customer,
        lines=[
            {"description": "Basic", "quantity": 1, "unit_price": "1033.33", "tax_rate": "20.00"},
            {"description": "Service hour", "quantity": "2.5", "unit_price": "95.00", "tax_rate": "20.00"},
            {"description": "Book", "quantity": 3, "unit_price": "9.99", "tax_rate": "10.00"},
        ],
    )
    assert invoice.net_total == Decimal("1033.33") + Decimal("237.50") + Decimal("29.97")
    assert invoice.tax_total == Decimal("206.67") + Decimal("47.50") + Decimal("3.00")
    assert invoice.gross_total == invoice.net_total + invoice.tax_total == Decimal("1557.97")
    assert invoice.open_amount == Decimal("1557.97")
    assert invoice.currency == "EUR"


@given(
    quantity=st.decimals(min_value="0.001", max_value="1000", places=3),
    price=st.decimals(min_value="0", max_value="100000", places=2),
    rate=st.sampled_from([Decimal("0"), Decimal("10.00"), Decimal("13.00"), Decimal("20.00")]),
)
def test_line_gross_is_net_plus_tax_in_cents(quantity, price, rate):
    line = InvoiceLine(quantity=quantity, unit_price=price, tax_rate=rate)
    assert line.gross_amount == line.net_amount + line.tax_amount
    assert line.net_amount == line.net_amount.quantize(Decimal("0.01"))
    assert abs(line.net_amount - quantity * price) <= Decimal("0.005")
    assert abs(line.tax_amount - line.net_amount * rate / 100) <= Decimal("0.005")
