"""Invoices for tests, made through the services so they carry their timeline events."""

from __future__ import annotations

import datetime
from decimal import Decimal

from billing import services
from billing.models import Invoice

VIENNA = datetime.timezone(datetime.timedelta(hours=1))


def at(day: datetime.date, hour: int = 12) -> datetime.datetime:
    """Noon in Vienna (winter time) on ``day``: the moment time_machine travels to."""
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=VIENNA)


def make_invoice(
    customer,
    *,
    issue_date: datetime.date | None = None,
    due_date: datetime.date | None = None,
    lines: list[dict] | None = None,
    amount: str | Decimal | None = None,
    issue: bool = True,
    actor=None,
    number: str = "",
) -> Invoice:
    """An invoice with one line of ``amount`` net at 20 % (or ``lines``), issued by default."""
    issue_date = issue_date or datetime.date(2026, 1, 5)
    due_date = due_date or issue_date + datetime.timedelta(days=14)
    if lines is None:
        lines = [
            {
                "description": "Basic plan",
                "quantity": 1,
                "unit_price": amount or "1033.33",
                "tax_rate": "20.00",
            }
        ]
    invoice = services.invoice_create(
        customer=customer, issue_date=issue_date, due_date=due_date, lines=lines, actor=actor, number=number
    )
    if issue:
        invoice = services.invoice_issue(invoice=invoice, actor=actor)
    return invoice
