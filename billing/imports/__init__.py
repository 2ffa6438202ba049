"""Import targets of accounting: invoices ("billing.invoice") and payments ("billing.payment").

Data sources (file uploads, the bulk REST API, webhooks) write these records through the core's
import service; ``billing/panels.py`` imports this module so the targets are registered at startup.

A record is known by (data source, its id there), kept on the row as ``external_source`` and
``external_id``: a rerun updates what changed or reports "unchanged". Every new record and every
imported change of state writes exactly one timeline event (department accounting, the kinds and
titles of :mod:`billing.services`) whose idempotency key is built from source slug + external id +
state. Rows are validated first and written in bulk (a handful of queries per batch, not per row);
the invoices a batch changes are locked first, as the services lock them.

Imported invoices mirror the accounting system they come from: one may arrive issued, paid or
cancelled. Its total is the gross amount, carried by one line without tax (the source's tax
breakdown is not imported). Money follows the services' rules:

* what is paid is the sum of the invoice's payments, and the status of an open invoice follows from
  money and due date (:meth:`Invoice.settled_status`): "issued", "partially paid" and "overdue" in a
  file all mean "open";
* a file may say "paid" before (or without) the payments: the invoice is then paid in full
  (``paid_amount`` covers it, event ``invoice.paid``), and payments imported later are its parts;
* paid and cancelled are final, as in the services, so a row asking to reopen one is refused; so are
  cancelling an invoice that has payments, paying a draft or a cancelled invoice, and paying more
  than the invoice asks for.

A new record that another import writes at the same moment makes one of the two batches fail on the
unique key instead of booking money twice; a retry finds the record known.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from billing.imports.invoices import INVOICE_FIELDS, write_invoices
from billing.imports.payments import PAYMENT_FIELDS, write_payments
from customer360.models import Department
from customer360.sources.targets import ImportTarget, import_targets

import_targets.register(
    ImportTarget(
        key="billing.invoice",
        label=gettext_lazy("Invoices"),
        department=Department.ACCOUNTING,
        fields=INVOICE_FIELDS,
        write_rows=write_invoices,
        order=60,
        api_id_field="invoice_id",
    )
)
import_targets.register(
    ImportTarget(
        key="billing.payment",
        label=gettext_lazy("Payments"),
        department=Department.ACCOUNTING,
        fields=PAYMENT_FIELDS,
        write_rows=write_payments,
        order=61,
        api_id_field="payment_id",
    )
)
