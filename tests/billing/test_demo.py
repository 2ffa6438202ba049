"""The billing seeder: deterministic, consistent with the dunning policy, Gruber's scenario invoice."""

import datetime
from decimal import Decimal

import pytest

from billing.models import DunningNotice, Invoice, Payment
from customer360.demo import run_seeders
from customer360.models import Customer, TimelineEvent, customer_deletion_allowed

TODAY = datetime.date(2026, 11, 27)
pytestmark = pytest.mark.django_db


def _seed():
    return run_seeders(count=60, seed=3, today=TODAY, stdout=lambda *_: None, only=["billing"])


def _snapshot():
    invoices = sorted(
        Invoice.objects.values_list(
            "customer__customer_number",
            "number",
            "status",
            "gross_total",
            "paid_amount",
            "fees_total",
            "dunning_level",
        )
    )
    events = sorted(
        TimelineEvent.objects.filter(department="accounting").values_list(
            "customer__customer_number", "kind", "title", "occurred_at"
        )
    )
    return invoices, events


def test_seeder_is_deterministic_and_consistent():
    _seed()
    first = _snapshot()
    TimelineEvent.objects.all().delete()
    Invoice.objects.all().delete()  # cascades to lines, payments, notices
    with customer_deletion_allowed():  # a test's clean slate; the app itself never deletes customers
        Customer.objects.all().delete()
    assert not Invoice.objects.exists()
    _seed()
    assert _snapshot() == first
    invoices, events = first
    assert len(invoices) > 60
    assert 3 <= len(events) / 60 <= 8  # ~5 accounting events per customer
    # every invoice adds up, and what is paid never exceeds what is owed
    for invoice in Invoice.objects.prefetch_related("lines"):
        assert invoice.gross_total == sum(line.gross_amount for line in invoice.lines.all())
        assert invoice.paid_amount <= invoice.gross_total + invoice.fees_total
        assert invoice.notices.count() == invoice.dunning_level
    assert Payment.objects.exists() and DunningNotice.objects.filter(level__gte=2).exists()


def test_gruber_invoice_state():
    ctx = _seed()
    gruber = next(c for c in ctx.customers if c.persona == "gruber")
    invoice = Invoice.objects.get(number="2026-0142")
    assert invoice.customer_id == gruber.id
    assert invoice.status == Invoice.Status.OVERDUE
    assert invoice.days_overdue(TODAY) == 23
    assert invoice.dunning_level == 2
    assert invoice.fees_total == Decimal("10.00")
    assert invoice.gross_total == Decimal("1240.00")
    assert list(invoice.notices.order_by("level").values_list("level", "fee")) == [
        (1, Decimal("0.00")),
        (2, Decimal("10.00")),
    ]
    assert Invoice.objects.filter(customer_id=gruber.id, status="paid").count() >= 2
    titles = list(
        TimelineEvent.objects.filter(customer_id=gruber.id, kind="dunning.notice")
        .order_by("occurred_at")
        .values_list("title", flat=True)
    )
    assert titles == [
        "Invoice 2026-0142 overdue: level 1, EUR 1,240.00",
        "Invoice 2026-0142 overdue: level 2, EUR 1,240.00",
    ]
    # personas: prospects have no invoices; late payers have notices
    prospects = [c.id for c in ctx.customers if c.persona == "prospect"]
    assert not Invoice.objects.filter(customer_id__in=prospects).exists()
    late = [c.id for c in ctx.customers if c.persona == "late_payer"]
    assert DunningNotice.objects.filter(invoice__customer_id__in=late).exists()
    # the daily run on the seeded day leaves Gruber where the scenario wants him
    from billing.services import dunning_run

    dunning_run(today=TODAY)
    invoice.refresh_from_db()
    assert invoice.dunning_level == 2
