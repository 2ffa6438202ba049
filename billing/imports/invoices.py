"""Invoices ("billing.invoice"): new ones with their customer and one line, known ones updated,
their state moved the way the services allow, with the services' events."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from billing import events
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
from billing.models import ZERO, Invoice, InvoiceLine, format_money
from customer360 import bulk, timeline
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
from customer360.text import fold

Status = Invoice.Status
NUMBER_LENGTH = Invoice._meta.get_field("number").max_length

#: What a status asks for: the open statuses are one state whose exact value money and dates decide.
FAMILY = {
    Status.DRAFT: "draft",
    Status.ISSUED: "open",
    Status.PARTIALLY_PAID: "open",
    Status.OVERDUE: "open",
    Status.DISPUTED: "disputed",
    Status.PAID: "paid",
    Status.CANCELLED: "cancelled",
}

INVOICE_FIELDS: tuple[TargetField, ...] = (
    TargetField(
        "invoice_id",
        gettext_lazy("Invoice id"),
        "id",
        required=True,
        aliases=("id", "invoice", "rechnung", "rechnungs-id", "beleg", "beleg-id", "document id"),
    ),
    *CUSTOMER_TARGET_FIELDS,
    TargetField(
        "number",
        gettext_lazy("Invoice number"),
        aliases=("rechnungsnummer", "rechnungsnr", "re-nr", "invoice number", "invoice no", "belegnummer"),
    ),
    TargetField(
        "issue_date",
        gettext_lazy("Issue date"),
        "date",
        aliases=("rechnungsdatum", "invoice date", "belegdatum", "issued", "date", "datum"),
    ),
    TargetField(
        "due_date",
        gettext_lazy("Due date"),
        "date",
        aliases=("faellig", "faellig am", "faelligkeit", "faelligkeitsdatum", "due", "zahlungsziel"),
    ),
    TargetField(
        "amount",
        gettext_lazy("Total amount (gross)"),
        "decimal",
        aliases=("total", "betrag", "gesamtbetrag", "bruttobetrag", "brutto", "rechnungsbetrag", "gross"),
    ),
    TargetField("currency", gettext_lazy("Currency"), aliases=("waehrung", "curr")),
    TargetField("status", gettext_lazy("Status"), aliases=("state", "zustand", "zahlungsstatus")),
    TargetField(
        "description",
        gettext_lazy("Description"),
        aliases=("beschreibung", "bezeichnung", "text", "leistung", "betreff", "subject"),
    ),
    TargetField("paid_on", gettext_lazy("Paid on"), "date", aliases=("bezahlt am", "paid date", "paid at")),
)


def _clean_invoice(row: PreparedRow, ctx: ImportContext) -> tuple[dict, RowResult | None]:
    """The row's invoice values in our vocabulary, or the refusal of the first bad one."""
    values, clean = row.values, {}
    if present(values, "number"):
        clean["number"] = str(values["number"]).strip()
        if len(clean["number"]) > NUMBER_LENGTH:
            return {}, refusal(row, ctx, "number", _too_long())
    if present(values, "description"):
        clean["description"] = str(values["description"]).strip()[:300]
    if present(values, "status"):
        clean["status"] = parse_choice("status", values["status"])
        if clean["status"] is None:
            return {}, refusal(row, ctx, "status", not_one_of("status"))
    if present(values, "currency") and fold(str(values["currency"])) not in ("eur", "euro", "€"):
        message = gettext("is not EUR; amounts in other currencies are not converted")
        return {}, refusal(row, ctx, "currency", message)
    name = ""
    try:
        for name in ("issue_date", "due_date", "paid_on"):
            if present(values, name):
                clean[name] = as_date(values[name])
    except CoercionError as exc:
        return {}, refusal(row, ctx, name, str(exc))
    if present(values, "amount"):
        clean["amount"], problem = as_amount(values["amount"])
        if problem:
            return {}, refusal(row, ctx, "amount", problem)
    return clean, None


def _too_long() -> str:
    return gettext("is longer than %(limit)s characters") % {"limit": NUMBER_LENGTH}


def _new_invoice_problem(item: Item, ctx: ImportContext) -> RowResult | None:
    """A new invoice needs its customer, its total and its due date."""
    if not identity.identity_keys(item.row.values, ctx.source.slug):
        return RowResult(
            "failed", gettext("No customer identifier: map an external id, e-mail or phone column.")
        )
    for name in ("amount", "due_date"):
        if name not in item.clean:
            return refusal(item.row, ctx, name, gettext("is empty, but a new record needs it"))
    if "number" not in item.clean and len(item.external_id) > NUMBER_LENGTH:
        return refusal(item.row, ctx, "invoice_id", _too_long())
    return None


def _transition_problem(invoice: Invoice, family: str | None, wanted: str, booked: Decimal) -> str:
    """Why the services would not get the invoice from where it is to what the row asks for."""
    if family in (None, "draft") or wanted == family:
        return ""
    if family in ("paid", "cancelled") or wanted == "draft":
        return gettext("cannot be applied: the invoice is already %(status)s") % {
            "status": invoice.get_status_display().lower()
        }
    refusal = invoice.cancel_refusal(paid=booked) if wanted == "cancelled" else None
    if refusal is not None and refusal.reason == "has_payments":
        return gettext("cannot be applied: the invoice has payments of %(paid)s") % {
            "paid": format_money(booked, invoice.currency)
        }
    return ""


def _apply_fields(item: Item, lines: list[InvoiceLine], today: date) -> None:
    """Number, dates and the total (one line carrying it) of the (new or known) invoice."""
    invoice: Invoice = item.obj
    clean, changed = item.clean, item.changed
    if item.new:
        clean.setdefault("number", item.external_id)
        # Without an issue date: today, unless the invoice was due before (the due date cannot precede it).
        clean.setdefault("issue_date", min(today, clean["due_date"]))
    for name in ("number", "issue_date", "due_date"):
        if name in clean and getattr(invoice, name) != clean[name]:
            setattr(invoice, name, clean[name])
            changed.append(name)
    amount, description = clean.get("amount"), clean.get("description")
    relined = item.new or (amount is not None and amount != invoice.gross_total)
    relined |= description is not None and [line.description for line in lines] != [description]
    if relined:
        item.line = InvoiceLine(
            position=1,
            description=description or (lines[0].description if lines else invoice.number),
            quantity=Decimal("1"),
            unit_price=amount if amount is not None else invoice.gross_total,
            tax_rate=ZERO,
        )
        invoice.recalculate_totals([item.line])
        changed += ["net_total", "tax_total", "gross_total"]


#: What an import may change of an invoice's state (the rest are the record's own fields).
STATE_FIELDS = ("status", "paid_amount", "disputed", "dispute_reason", "cancelled_reason", "revision")


def _move(invoice: Invoice, family: str | None, wanted: str, booked: Decimal, today: date) -> None:
    """Move the invoice where the row asks by the invoice's own rules (the services' rules):
    cancel, dispute and resolve a dispute as the services do; paid in full with its payments."""
    if family in (None, "draft"):
        invoice.status = Status.ISSUED  # a new or drafted invoice is issued first, then moved on
    invoice.paid_amount = booked
    if wanted == "paid":  # what it was paid with may arrive later as payments (Invoice.apply_payment)
        invoice.status, invoice.disputed = Status.PAID, False
        invoice.paid_amount = max(booked, invoice.gross_total + invoice.fees_total)
    elif wanted == family:
        return
    elif wanted == "cancelled":
        invoice.cancel()
    elif wanted == "disputed":
        invoice.dispute()
    elif family == "disputed":
        invoice.resolve_dispute(today)


def _apply_state(item: Item, family: str | None, wanted: str, booked: Decimal, today: date, now) -> None:
    """Status, paid amount and dispute as the row asks, and the events the change means."""
    invoice: Invoice = item.obj
    if wanted == "draft":
        invoice.status = Status.DRAFT
        return
    before = {name: getattr(invoice, name) for name in STATE_FIELDS}
    _move(invoice, family, wanted, booked, today)
    money_moved = {"gross_total", "due_date"} & set(item.changed) or before["paid_amount"] != booked
    if wanted == "open" and family in (None, "draft", "open") and (family != "open" or money_moved):
        # Open: money and due date decide, as after a payment in the services. An unchanged open
        # invoice keeps its status (turning it overdue is the dunning run's business).
        invoice.status = invoice.settled_status(today)
    moves = family != FAMILY[invoice.status] or family is None
    if moves and invoice.revision == before["revision"]:
        invoice.revision += 1  # one new revision per move (cancel, dispute and resolve count theirs)
    item.changed += [name for name in STATE_FIELDS if getattr(invoice, name) != before[name]]
    if not moves:
        return
    if family in (None, "draft"):
        item.events.append((events.INVOICE_ISSUED, ("issued",), noon(invoice.issue_date, now)))
    status = invoice.status
    if family == "disputed" and FAMILY[status] == "open":
        item.events.append((events.INVOICE_DISPUTE_RESOLVED, ("dispute_resolved", invoice.revision), now))
    if status == Status.PAID:
        paid_on = item.clean.get("paid_on")
        item.events.append((events.INVOICE_PAID, ("paid",), noon(paid_on, now) if paid_on else now))
    elif status == Status.CANCELLED:
        item.events.append((events.INVOICE_CANCELLED, ("cancelled",), now))
    elif status == Status.DISPUTED:
        item.events.append((events.INVOICE_DISPUTED, ("disputed", invoice.revision), now))


def _apply_invoice(
    item: Item, booked: Decimal, lines: list[InvoiceLine], today: date, now: datetime
) -> tuple[str, str]:
    """Apply the row to the (new or known) invoice; ``(field, reason)`` when that cannot be done."""
    invoice: Invoice = item.obj
    family = None if item.new else FAMILY[invoice.status]
    requested = item.clean.get("status")
    wanted = FAMILY[requested] if requested else (family or "open")
    problem = _transition_problem(invoice, family, wanted, booked)
    if problem:
        return "status", problem
    _apply_fields(item, lines, today)
    if invoice.due_date < invoice.issue_date:
        return "due_date", gettext("lies before the issue date")
    if booked > invoice.gross_total + invoice.fees_total:
        return "amount", gettext("is less than the payments recorded (%(paid)s)") % {
            "paid": format_money(booked, invoice.currency)
        }
    _apply_state(item, family, wanted, booked, today, now)
    if item.new:
        item.changed.clear()
    return "", ""


def _free_numbers(items: list[Item], results: list, ctx: ImportContext) -> list[Item]:
    """Invoice numbers are unique across all invoices: a row wanting another invoice's number is
    refused (one query for the batch)."""
    wanted = {i.obj.number for i in items if i.new or "number" in i.changed}
    holders = dict(Invoice.objects.filter(number__in=wanted).values_list("number", "pk"))
    kept, taken = [], set()
    for item in items:
        number, pk = item.obj.number, item.obj.pk
        if number in taken or holders.get(number, pk) != pk:
            column = "number" if present(item.row.values, "number") else "invoice_id"
            message = gettext("is already the number of another invoice")
            results[item.index] = refusal(item.row, ctx, column, message)
            continue
        taken.add(number)
        kept.append(item)
    return kept


def _invoice_events(item: Item, ctx: ImportContext, source_type_id: int, url) -> list[timeline.EventData]:
    invoice: Invoice = item.obj
    result = []
    for kind, parts, when in item.events:
        values = events.invoice_fields(invoice)
        if kind in (events.INVOICE_ISSUED, events.INVOICE_PAID):
            values.update(amount=invoice.gross_total, due_date=invoice.due_date)
        result.append(
            kind.event(
                customer_id=invoice.customer_id,
                key=timeline.idempotency_key(ctx.source.slug, "billing.invoice", item.external_id, *parts),
                payload=kind.payload(**values),
                occurred_at=when,
                actor_id=ctx.actor_id,
                actor_label=ctx.source.name[:120],
                source_type_id=source_type_id,
                source_id=str(invoice.pk),
                source_url=url(invoice.pk),
            )
        )
    return result


def write_invoices(rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """Invoices by (source, invoice id): new ones with their customer and one line, known ones
    updated; events invoice.issued / paid / cancelled / disputed / dispute_resolved once each."""
    slug, today, now = ctx.source.slug, timezone.localdate(), timezone.now()
    results, items = validated(rows, ctx, "invoice_id", _clean_invoice)
    items = claim(items, results, ctx, "billing.invoice")
    known = existing(Invoice.objects.select_for_update(), items, slug)
    booked = booked_per_invoice(i.pk for i in known.values())
    lines: dict[int, list[InvoiceLine]] = {}
    for line in InvoiceLine.objects.filter(invoice__in=list(known.values())).order_by("position", "pk"):
        lines.setdefault(line.invoice_id, []).append(line)
    ready = []
    for item in items:
        item.obj = known.get(item.external_id)
        if item.obj is None:
            failure = _new_invoice_problem(item, ctx)
            if failure:
                results[item.index] = failure
                continue
            item.new = True
            item.obj = Invoice(
                external_source=slug, external_id=item.external_id, created_by_id=ctx.actor_id, created_at=now
            )
        pk = item.obj.pk
        name, problem = _apply_invoice(item, booked.get(pk, ZERO), lines.get(pk, []), today, now)
        if problem:
            results[item.index] = refusal(item.row, ctx, name, problem)
        else:
            ready.append(item)
    ready = _free_numbers(ready, results, ctx)
    fresh = [i for i in ready if i.new]
    resolved = identity.resolve([i.row.values for i in fresh], source_slug=slug)
    for item, (customer_id, _created) in zip(fresh, resolved, strict=True):
        item.obj.customer_id = customer_id
    insert_new(Invoice, fresh)
    relined = [i for i in ready if i.line is not None]
    InvoiceLine.objects.filter(invoice_id__in=[i.obj.pk for i in relined if not i.new]).delete()
    for item in relined:
        item.line.invoice_id = item.obj.pk
    bulk.bulk_insert([i.line for i in relined])
    updated = [i for i in ready if not i.new and i.changed]
    if updated:
        for item in updated:
            item.obj.updated_at = now
        names = sorted({name for i in updated for name in i.changed} | {"updated_at"})
        Invoice.objects.bulk_update([i.obj for i in updated], names, batch_size=1000)
    source_type_id, url = ContentType.objects.get_for_model(Invoice).id, invoice_url()
    record_events([event for item in ready for event in _invoice_events(item, ctx, source_type_id, url)])
    return results_of(ready, results)
