"""Payments ("billing.payment") on invoices named by their id or number: paid amount and status
follow as in the services, one event payment.received per payment."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from billing.events import PAYMENT_RECEIVED, invoice_fields
from billing.imports.rows import (
    Item,
    as_amount,
    as_date,
    booked_per_invoice,
    existing,
    insert_new,
    invoice_url,
    noon,
    not_one_of,
    parse_choice,
    results_of,
    validated,
)
from billing.models import ZERO, Invoice, Payment, format_money
from billing.services import payment_received_values
from customer360 import timeline
from customer360.sources import identity
from customer360.sources.mapping import CoercionError
from customer360.sources.records import claim, present, record_events, refusal
from customer360.sources.targets import (
    CUSTOMER_TARGET_FIELDS,
    ImportContext,
    PreparedRow,
    RowResult,
    TargetField,
)

Status = Invoice.Status

PAYMENT_FIELDS: tuple[TargetField, ...] = (
    TargetField(
        "payment_id",
        gettext_lazy("Payment id"),
        "id",
        required=True,
        aliases=("id", "payment", "zahlung", "zahlungs-id", "transaction id", "transaktion", "buchung"),
    ),
    TargetField(
        "invoice",
        gettext_lazy("Invoice (id or number)"),
        "id",
        required=True,
        aliases=(
            "invoice id",
            "invoice number",
            "invoice no",
            "rechnung",
            "rechnungsnummer",
            "rechnungsnr",
            "re-nr",
            "beleg",
        ),
    ),
    *CUSTOMER_TARGET_FIELDS,
    TargetField(
        "amount",
        gettext_lazy("Amount"),
        "decimal",
        required=True,
        aliases=("betrag", "zahlbetrag", "paid amount", "summe", "value"),
    ),
    TargetField(
        "paid_on",
        gettext_lazy("Paid on"),
        "date",
        aliases=(
            "paid date",
            "payment date",
            "paid at",
            "zahlungsdatum",
            "bezahlt am",
            "eingang",
            "valuta",
            "buchungsdatum",
            "date",
            "datum",
        ),
    ),
    TargetField("method", gettext_lazy("Method"), aliases=("zahlungsart", "zahlart", "payment method")),
)


def _clean_payment(row: PreparedRow, ctx: ImportContext) -> tuple[dict, RowResult | None]:
    values = row.values
    clean = {"invoice": str(values.get("invoice") or "").strip()[:100]}
    if not clean["invoice"]:
        return {}, refusal(row, ctx, "invoice", gettext("is empty, but a payment needs its invoice"))
    clean["amount"], problem = as_amount("" if values.get("amount") is None else values["amount"])
    if problem:
        return {}, refusal(row, ctx, "amount", problem)
    if present(values, "method"):
        clean["method"] = parse_choice("method", values["method"])
        if clean["method"] is None:
            return {}, refusal(row, ctx, "method", not_one_of("method"))
    if present(values, "paid_on"):
        try:
            clean["paid_on"] = as_date(values["paid_on"])
        except CoercionError as exc:
            return {}, refusal(row, ctx, "paid_on", str(exc))
    return clean, None


def _invoices_by_reference(references: set[str], slug: str) -> dict[str, Invoice | None]:
    """The invoice each reference names, locked: an invoice id of this source, else an invoice
    number, else the invoice id of one other source (invoices and payments usually come through two
    sources of the same system). ``None`` marks a reference that several sources use."""
    if not references:
        return {}
    rows = (
        Invoice.objects.select_for_update()
        .filter(Q(external_id__in=references) | Q(number__in=references))
        .order_by("pk")
    )
    own, by_number, elsewhere = {}, {}, {}
    for invoice in rows:
        if invoice.external_source == slug and invoice.external_id in references:
            own[invoice.external_id] = invoice
        elif invoice.external_id in references:
            elsewhere.setdefault(invoice.external_id, []).append(invoice)
        if invoice.number in references:
            by_number[invoice.number] = invoice
    found = {}
    for ref in references:
        others = elsewhere.get(ref, [])
        invoice = own.get(ref) or by_number.get(ref) or (others[0] if len(others) == 1 else None)
        if invoice is not None or others:
            found[ref] = invoice
    return found


def _named_customers(items: list[Item], slug: str) -> dict[int, tuple[str, int]]:
    """Per row: the field of the strongest customer identifier we know and its customer. Payments
    create no customers; the identifiers only check that the row means the invoice's customer."""
    keys = {item.index: identity.identity_keys(item.row.values, slug) for item in items}
    found = identity.lookup({key for row_keys in keys.values() for key in row_keys})
    named = {}
    for index, row_keys in keys.items():
        key = next((k for k in row_keys if k in found), None)
        if key is not None:
            named[index] = (key[0], found[key])  # the identity kinds are the field names
    return named


IMPORT_REFUSALS = {
    "cancelled": ("invoice", gettext_noop("is a %(status)s invoice, which cannot be paid")),
    "draft": ("invoice", gettext_noop("is a %(status)s invoice, which cannot be paid")),
    "not_positive": ("amount", gettext_noop("is more than the open amount of %(open)s")),
    "paid": ("amount", gettext_noop("is more than the open amount of %(open)s")),
    "more_than_open": ("amount", gettext_noop("is more than the open amount of %(open)s")),
}


def _payment_problem(item: Item, invoice: Invoice | None, payment: Payment | None, owner, booked) -> tuple:
    """``(field, reason)`` when the payment cannot be booked on the invoice its row names."""
    if invoice is None:
        return "invoice", gettext("matches no invoice: neither an imported invoice id nor an invoice number")
    if payment is not None and payment.invoice_id != invoice.pk:
        return "invoice", gettext("cannot be applied: the payment is booked on invoice %(number)s") % {
            "number": payment.invoice.number
        }
    if owner is not None and owner[1] != invoice.customer_id:
        return owner[0], gettext("belongs to another customer than invoice %(number)s") % {
            "number": invoice.number
        }
    more = item.clean["amount"] - (payment.amount if payment else ZERO)
    if more <= 0 and payment is not None:
        return "", ""
    # The invoice's own payment rule, against what its payments add up to (Invoice.payment_refusal).
    refusal = invoice.payment_refusal(more, paid=booked)
    if refusal is None:
        return "", ""
    name, message = IMPORT_REFUSALS[refusal.reason]
    return name, gettext(message) % {
        "status": invoice.get_status_display().lower(),
        "open": format_money(refusal.open_amount, invoice.currency),
    }


def _apply_payment(item: Item, payment: Payment | None, booked: dict, ctx: ImportContext, today, now):
    """Book the row on ``item.invoice``: a new payment, or the changes of a known one."""
    invoice, clean = item.invoice, item.clean
    amount, paid_on, method = clean["amount"], clean.get("paid_on"), clean.get("method")
    if payment is None:
        item.new = True
        payment = Payment(
            invoice=invoice,
            amount=amount,
            received_at=noon(paid_on, now) if paid_on else now,
            method=method or Payment.Method.BANK_TRANSFER,
            created_by_id=ctx.actor_id,
            created_at=now,
            external_source=ctx.source.slug,
            external_id=item.external_id,
        )
        more = amount
    else:
        more = amount - payment.amount
        payment.invoice = invoice  # the locked instance that every row of this invoice changes
        for name, value in (("amount", amount), ("method", method)):
            if value is not None and getattr(payment, name) != value:
                setattr(payment, name, value)
                item.changed.append(name)
        if paid_on and timezone.localdate(payment.received_at) != paid_on:
            payment.received_at = noon(paid_on, now)
            item.changed.append("received_at")
    item.obj = payment
    if more:
        booked[invoice.pk] = booked.get(invoice.pk, ZERO) + more
        invoice.apply_payment(more, today)
    if item.new:
        # The payload is taken now: a later row of the batch may pay the same invoice further.
        state = (invoice.open_amount, invoice.status == Status.PAID)
        item.events.append((PAYMENT_RECEIVED, ("received",), payment.received_at, state))


def _payment_events(item: Item, ctx: ImportContext, source_type_id: int, url) -> list[timeline.EventData]:
    payment: Payment = item.obj
    invoice = item.invoice
    events = []
    for kind, parts, when, (open_amount, paid_in_full) in item.events:
        values = payment_received_values(invoice, payment)
        # As this row left the invoice, not as the batch's later rows leave it.
        values.update(open_amount=open_amount, paid_in_full=paid_in_full)
        events.append(
            kind.event(
                customer_id=invoice.customer_id,
                key=timeline.idempotency_key(ctx.source.slug, "billing.payment", item.external_id, *parts),
                payload=kind.payload(**invoice_fields(invoice), **values),
                occurred_at=when,
                actor_id=ctx.actor_id,
                actor_label=ctx.source.name[:120],
                source_type_id=source_type_id,
                source_id=str(invoice.pk),
                source_url=url(invoice.pk),
            )
        )
    return events


def write_payments(rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """Payments by (source, payment id) on invoices named by their id in this source or their
    number: paid amount and status follow as in the services; one event payment.received each."""
    slug, today, now = ctx.source.slug, timezone.localdate(), timezone.now()
    results, items = validated(rows, ctx, "payment_id", _clean_payment)
    items = claim(items, results, ctx, "billing.payment")
    invoices = _invoices_by_reference({i.clean["invoice"] for i in items}, slug)
    # Read after the invoices are locked: a concurrent import of the same payments has committed.
    known = existing(Payment.objects.select_related("invoice"), items, slug)
    booked = booked_per_invoice({i.pk for i in invoices.values() if i is not None})
    owners = _named_customers(items, slug)
    ready = []
    for item in items:  # in row order, so that each payment sees what the rows before it booked
        reference, payment = item.clean["invoice"], known.get(item.external_id)
        invoice = invoices.get(reference)
        paid = booked.get(invoice.pk, ZERO) if invoice else ZERO
        name, problem = _payment_problem(item, invoice, payment, owners.get(item.index), paid)
        if reference in invoices and invoice is None:
            name, problem = (
                "invoice",
                gettext("is an invoice id of several data sources; use the invoice number"),
            )
        if problem:
            results[item.index] = refusal(item.row, ctx, name, problem)
            continue
        item.invoice = invoice
        _apply_payment(item, payment, booked, ctx, today, now)
        ready.append(item)
    insert_new(Payment, [i for i in ready if i.new])
    updated = [i for i in ready if not i.new and i.changed]
    if updated:
        names = sorted({name for i in updated for name in i.changed})
        Payment.objects.bulk_update([i.obj for i in updated], names, batch_size=1000)
    settled = {i.invoice.pk: i.invoice for i in ready if i.new or "amount" in i.changed}
    for invoice in settled.values():
        invoice.updated_at = now
    fields = ["status", "paid_amount", "disputed", "revision", "updated_at"]
    Invoice.objects.bulk_update(list(settled.values()), fields, batch_size=1000)
    source_type_id, url = ContentType.objects.get_for_model(Invoice).id, invoice_url()
    record_events([event for item in ready for event in _payment_events(item, ctx, source_type_id, url)])
    return results_of(ready, results)
