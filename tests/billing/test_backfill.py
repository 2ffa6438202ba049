"""The data migrations fill old events' payloads so that they render in German too."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import translation

from billing import services
from customer360.models import TimelineEvent
from tests.billing.factories import make_invoice

pytestmark = pytest.mark.django_db


def test_old_payment_event_is_backfilled_from_its_invoice_and_payment(customer):
    invoice = make_invoice(customer, number="2026-0142")  # EUR 1,240.00
    payment = services.invoice_record_payment(invoice=invoice, amount=Decimal("1000.00"))
    event = TimelineEvent.objects.get(kind="payment.received")
    # As the old demo seeder wrote it: no payment_id, number, dunning_level, currency.
    old = {"invoice_id": invoice.pk, "amount": "1000.00", "open_amount": "240.00", "paid_in_full": False}
    TimelineEvent.objects.filter(pk=event.pk).update(payload=old)
    with translation.override("de"):
        assert TimelineEvent.objects.get(pk=event.pk).display_title.startswith("Payment EUR 1,000.00")

    migration = importlib.import_module("billing.migrations.0005_backfill_event_payloads")
    migration.backfill(apps, None)

    event = TimelineEvent.objects.get(pk=event.pk)
    assert event.payload["payment_id"] == payment.pk
    assert (event.payload["number"], event.payload["currency"]) == ("2026-0142", "EUR")
    with translation.override("de"):
        assert (
            event.display_title == "Zahlung EUR 1.000,00 erhalten: Rechnung 2026-0142, EUR 240,00 noch offen"
        )
