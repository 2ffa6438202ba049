"""Invoices and payments in a subject export; on erasure they STAY (legal retention, e.g. seven
years under the Austrian BAO) with their amounts, under the customer's pseudonym; only free text
that names the person (notes, reasons, payment references, dunning letters) is scrubbed."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from billing.models import DunningNotice, Invoice, InvoiceLine, Payment
from customer360.privacy.registry import SubjectData, rows, scrub_fields, subject_data


def export(customer) -> dict[str, list[dict]]:
    return {
        "invoices": rows(Invoice.objects.filter(customer=customer)),
        "invoice_lines": rows(InvoiceLine.objects.filter(invoice__customer=customer)),
        "payments": rows(Payment.objects.filter(invoice__customer=customer)),
        "dunning_notices": rows(DunningNotice.objects.filter(invoice__customer=customer)),
    }


def erase(customer, request) -> dict[str, int]:
    needles = request.needles
    invoices = Invoice.objects.filter(customer=customer)
    return {
        "invoices": scrub_fields(invoices, ("notes", "dispute_reason", "cancelled_reason"), needles),
        "invoice_lines": scrub_fields(
            InvoiceLine.objects.filter(invoice__customer=customer), ("description",), needles
        ),
        "payments": scrub_fields(Payment.objects.filter(invoice__customer=customer), ("reference",), needles),
        "dunning_notices": scrub_fields(
            DunningNotice.objects.filter(invoice__customer=customer), ("text",), needles
        ),
    }


subject_data.register(
    SubjectData(
        key="billing",
        label=_("Billing and dunning"),
        app_labels=("billing",),
        export=export,
        erase=erase,
        order=40,
    )
)
