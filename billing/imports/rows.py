"""What both billing import targets do with their rows: the vocabulary of accounting systems,
refusals that name column and value, one claim per id and run, and the bulk reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from billing.models import ZERO, Invoice, InvoiceLine, Payment, money
from customer360 import bulk
from customer360.sources import records
from customer360.sources.mapping import CoercionError, to_date, to_decimal
from customer360.sources.targets import ImportContext, PreparedRow, RowResult

MAX_AMOUNT = Decimal("9999999999.99")  # MONEY: 12 digits, 2 of them decimals

# Words accounting systems use for our choice values (compared after ``fold``).
SYNONYMS: dict[str, dict[str, str]] = {
    "status": {
        **dict.fromkeys(
            ("open", "offen", "unpaid", "unbezahlt", "outstanding", "sent", "ausgestellt", "versendet"),
            "issued",
        ),
        **dict.fromkeys(("partial", "partly paid", "teilbezahlt", "teilweise bezahlt"), "partially_paid"),
        **dict.fromkeys(("bezahlt", "beglichen", "ausgeglichen", "settled"), "paid"),
        **dict.fromkeys(("ueberfaellig", "faellig", "gemahnt"), "overdue"),
        **dict.fromkeys(("storniert", "storno", "canceled", "void"), "cancelled"),
        **dict.fromkeys(("entwurf",), "draft"),
        **dict.fromkeys(("strittig", "bestritten", "beeinsprucht", "in dispute"), "disputed"),
    },
    "method": {
        **dict.fromkeys(("ueberweisung", "bank", "transfer", "wire", "sepa"), "bank_transfer"),
        **dict.fromkeys(("lastschrift", "sepa lastschrift", "einzug", "bankeinzug", "debit"), "direct_debit"),
        **dict.fromkeys(("karte", "kreditkarte", "credit card", "bankomat"), "card"),
        **dict.fromkeys(("bar", "barzahlung"), "cash"),
        **dict.fromkeys(("sonstiges", "andere"), "other"),
    },
}
CHOICES: dict[str, type] = {"status": Invoice.Status, "method": Payment.Method}

_choices = records.Choices(CHOICES, SYNONYMS)
parse_choice, not_one_of = _choices.parse, _choices.not_one_of


def as_date(value) -> date:
    """Values are typed by the mapping already; a mapping may still have forced plain text."""
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    return to_date(str(value))


def as_amount(value) -> tuple[Decimal | None, str]:
    """A positive amount in cents, or the reason it is not one."""
    try:
        amount = value if isinstance(value, Decimal) else to_decimal(str(value))
    except CoercionError as exc:
        return None, str(exc)
    # Range first: quantizing a huge number would exceed the decimal context's precision.
    amount = money(amount) if 0 < amount <= MAX_AMOUNT else ZERO
    if amount <= 0:
        return None, gettext("is not an amount between 0.01 and 9,999,999,999.99")
    return amount, ""


def noon(day: date, now: datetime) -> datetime:
    """When something of a past day happened: noon, as back-dated payments in the UI (never later
    than now, so that today's records do not lie in the future)."""
    return min(timezone.make_aware(datetime.combine(day, time(12))), now)


@dataclass
class Item:
    """A valid row on its way in: its position, external id, cleaned values and what it becomes."""

    index: int
    row: PreparedRow
    external_id: str
    clean: dict
    obj: object = None
    new: bool = False
    changed: list[str] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)  # (kind, key parts, occurred_at[, facts])
    line: InvoiceLine | None = None  # an invoice's new single line (replaces its lines)
    invoice: Invoice | None = None  # a payment's invoice

    @property
    def customer_id(self) -> int | None:
        return self.invoice.customer_id if self.invoice is not None else self.obj.customer_id


def validated(rows: list[PreparedRow], ctx: ImportContext, id_field: str, clean_row) -> tuple[list, list]:
    return records.validated(rows, ctx, id_field, clean_row, Item)


def existing(queryset, items: list[Item], slug: str) -> dict:
    # The exclude repeats the unique constraint's condition so PostgreSQL can use its partial index.
    ids = [i.external_id for i in items]
    rows = queryset.filter(external_source=slug, external_id__in=ids).exclude(external_id="")
    return {obj.external_id: obj for obj in rows.order_by("pk")}


def insert_new(model, items: list[Item]) -> None:
    """Insert new records with their primary keys (their lines, payments and events need them).
    No ``ignore_conflicts``: a record written by a concurrent import fails this batch rather than
    letting money be booked twice."""
    objs = [i.obj for i in items]
    if not objs:
        return
    bulk.bulk_insert(objs, with_ids=True)
    if any(obj.pk is None for obj in objs):  # a backend without RETURNING: read the keys back
        slug = objs[0].external_source
        pks = dict(
            model.objects.filter(external_source=slug, external_id__in=[i.external_id for i in items])
            .exclude(external_id="")
            .values_list("external_id", "pk")
        )
        for item in items:
            item.obj.pk = pks[item.external_id]


def booked_per_invoice(invoice_ids) -> dict[int, Decimal]:
    """The sum of the payments per invoice (one query)."""
    rows = (
        Payment.objects.filter(invoice_id__in=list(invoice_ids))
        .values("invoice_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {row["invoice_id"]: row["total"] for row in rows}


def results_of(items: list[Item], results: list) -> list[RowResult]:
    for item in items:
        status = "created" if item.new else ("updated" if item.changed or item.events else "unchanged")
        results[item.index] = RowResult(status, customer_id=item.customer_id)
    return [r or RowResult("failed") for r in results]


def invoice_url():
    """``pk -> url`` of the invoice page: one ``reverse`` per batch instead of one per event."""
    return records.url_maker("billing:invoice_detail")
