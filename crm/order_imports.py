"""Import target "crm.order_line": purchase lines of a shop or ERP, one row per line.

Lines are grouped into orders by the order number (per data source); a new order finds or creates
its customer by identity resolution. Each line keeps its amount in the order's currency and in the
base currency, converted at the latest exchange rate on or before the order date (a line in a
currency without such a rate is refused, naming the currency and the day). A cancellation (an
order number "C" + digits, as the UCI "Online Retail" export writes it, or an order whose first
line is negative) is an order of its own with negative lines.

A line is known by its order and its line id, or, without a mapped line id, by its content and how
many identical lines came before it in the file (two identical lines stay two lines, as in the
shop's export): a rerun of the same file reports every line "unchanged". Each batch records one
event per order it added lines to (``purchase.ordered`` or ``purchase.cancelled``, tagged ``revenue``)
with the base-currency amount of those lines, so the revenue read from the timeline equals the
lines' sum.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from crm.events import ORDER_CANCELLED, ORDER_PLACED
from crm.models import ExchangeRate, Order, OrderLine
from crm.models.orders import base_currency, cents
from customer360 import bulk, timeline
from customer360.formatting import day
from customer360.models import Department
from customer360.sources import records
from customer360.sources.mapping import CoercionError
from customer360.sources.records import Item, refusal
from customer360.sources.targets import (
    CUSTOMER_TARGET_FIELDS,
    ImportContext,
    ImportTarget,
    PreparedRow,
    RowResult,
    TargetField,
    import_targets,
)

MAX_QUANTITY = Decimal("99999999999")  # OrderLine.quantity: 14 digits, 3 of them decimals
MAX_PRICE = Decimal("9999999999")  # OrderLine.unit_price: 14 digits, 4 of them decimals
MAX_AMOUNT = Decimal("999999999999")  # OrderLine.amount: 14 digits, 2 of them decimals
CANCELLATION_NUMBER = re.compile(r"^[Cc]\d")
CURRENCY = re.compile(r"^[A-Z]{3}$")
CURRENCY_WORDS = {"€": "EUR", "EURO": "EUR", "$": "USD", "£": "GBP", "PFUND": "GBP", "FRANKEN": "CHF"}

ORDER_LINE_FIELDS: tuple[TargetField, ...] = (
    TargetField(
        "order_id",
        gettext_lazy("Order number"),
        "id",
        required=True,
        aliases=(
            "invoiceno",
            "invoice no",
            "order",
            "order no",
            "order number",
            "bestellung",
            "bestellnummer",
            "auftrag",
            "auftragsnummer",
        ),
    ),  # fmt: skip
    TargetField(
        "line_id", gettext_lazy("Line id"), "id", aliases=("line", "line no", "position", "pos", "zeile")
    ),
    *CUSTOMER_TARGET_FIELDS,
    TargetField(
        "ordered_at",
        gettext_lazy("Order date"),
        "datetime",
        required=True,
        aliases=("invoicedate", "invoice date", "order date", "bestelldatum", "date", "datum"),
    ),
    TargetField(
        "stock_code",
        gettext_lazy("Stock code"),
        aliases=("stockcode", "sku", "article", "artikel", "artikelnummer", "product code"),
    ),
    TargetField(
        "description",
        gettext_lazy("Product description"),
        aliases=("description", "product", "beschreibung", "bezeichnung", "artikelbezeichnung"),
    ),
    TargetField(
        "quantity", gettext_lazy("Quantity"), "decimal", required=True, aliases=("qty", "menge", "anzahl")
    ),
    TargetField(
        "unit_price",
        gettext_lazy("Unit price"),
        "decimal",
        required=True,
        aliases=("unitprice", "price", "preis", "einzelpreis", "stueckpreis"),
    ),
    TargetField("currency", gettext_lazy("Currency (ISO 4217)"), aliases=("waehrung", "währung", "curr")),
)


def _currency(raw) -> str:
    text = str(raw or "").strip().upper()
    return CURRENCY_WORDS.get(text, text) if text else base_currency()


def _clean_line(row: PreparedRow, ctx: ImportContext) -> tuple[dict, RowResult | None]:
    """The line's values, or the refusal of the first bad one (naming column and value)."""
    values, clean = row.values, {}
    name = ""
    try:
        for name in ("quantity", "unit_price"):
            clean[name] = records.as_decimal(values[name])
        name = "ordered_at"
        clean["ordered_at"] = records.as_datetime(values["ordered_at"])
    except (CoercionError, KeyError, TypeError) as exc:
        return {}, refusal(
            row, ctx, name, str(exc) if isinstance(exc, CoercionError) else gettext("is empty")
        )
    if abs(clean["quantity"]) > MAX_QUANTITY:
        return {}, refusal(row, ctx, "quantity", gettext("is too large"))
    if abs(clean["unit_price"]) > MAX_PRICE:
        return {}, refusal(row, ctx, "unit_price", gettext("is too large"))
    clean["currency"] = _currency(values.get("currency"))
    if not CURRENCY.match(clean["currency"]):
        return {}, refusal(row, ctx, "currency", gettext("is not a currency code (ISO 4217, e.g. EUR, GBP)"))
    line_id = str(values.get("line_id") or "").strip()
    clean["key"] = f"id:{line_id}"[:120] if line_id else f"row:{row.fingerprint}"
    clean["stock_code"] = str(values.get("stock_code") or "").strip()[:60]
    clean["description"] = str(values.get("description") or "").strip()[:300]
    return clean, None


def _rate_problem(item: Item, ctx: ImportContext) -> RowResult:
    message = gettext("has no exchange rate on or before %(day)s (add one on the exchange rates page)") % {
        "day": day(timezone.localdate(item.clean["ordered_at"]))
    }
    return refusal(item.row, ctx, "currency", message)


def _orders_of(items: list[Item], results: list, ctx: ImportContext, now) -> dict[str, Order]:
    """The order of every line's number: known ones read in one query, new ones created (their
    customer found or created by identity resolution). Lines of orders that cannot be created get
    the first line's refusal."""
    first: dict[str, Item] = {}
    for item in items:
        first.setdefault(item.external_id, item)
    slug = ctx.source.slug
    orders = records.existing(Order.objects, list(first.values()), slug)
    fresh = [item for number, item in first.items() if number not in orders]
    rates = ExchangeRate.objects.table({i.clean["currency"] for i in fresh})
    creatable = []
    for item in fresh:
        rate = rates.rate(item.clean["currency"], timezone.localdate(item.clean["ordered_at"]))
        if rate is None:
            results[item.index] = _rate_problem(item, ctx)
            continue
        number = item.external_id
        item.obj = Order(
            external_source=slug,
            external_id=number,
            number=number,
            ordered_at=item.clean["ordered_at"],
            currency=item.clean["currency"],
            rate=rate,
            is_cancellation=bool(CANCELLATION_NUMBER.match(number)) or item.clean["quantity"] < 0,
            created_at=now,
        )
        creatable.append(item)
    created = records.resolve_customers(creatable, results, ctx, required="ordered_at")
    records.insert_new(Order, created, slug)
    orders.update({item.external_id: item.obj for item in created})
    return orders


def _new_lines(items: list[Item], results: list, ctx: ImportContext, orders: dict[str, Order]) -> list[Item]:
    """The lines to insert: each line of a known order that is not there yet; lines whose order
    could not be made share its refusal, lines in another currency than their order are refused."""
    keys = {(orders[i.external_id].pk, i.clean["key"]) for i in items if i.external_id in orders}
    known = set(
        OrderLine.objects.filter(order_id__in={pk for pk, _key in keys}, key__in={key for _pk, key in keys})
        .values_list("order_id", "key")
        .order_by()
    )
    failed_orders = {}
    for item in items:
        if results[item.index] is not None and item.external_id not in orders:
            failed_orders.setdefault(item.external_id, results[item.index])
    fresh, seen = [], set()
    for item in items:
        order = orders.get(item.external_id)
        if order is None:
            results[item.index] = (
                results[item.index] or failed_orders.get(item.external_id) or RowResult("failed")
            )
            continue
        identity = (order.pk, item.clean["key"])
        if identity in known:
            results[item.index] = RowResult("unchanged", customer_id=order.customer_id)
        elif identity in seen:
            results[item.index] = RowResult(
                "duplicate", gettext("The same line appears earlier in this import.")
            )
        elif item.clean["currency"] != order.currency:
            message = gettext("differs from the currency of order %(number)s (%(currency)s)") % {
                "number": order.number,
                "currency": order.currency,
            }
            results[item.index] = refusal(item.row, ctx, "currency", message)
        else:
            quantity = item.clean["quantity"]
            if order.is_cancellation and quantity > 0:
                quantity = -quantity  # a cancellation takes the goods back
            amount = cents(quantity * item.clean["unit_price"])
            if abs(amount) > MAX_AMOUNT:
                results[item.index] = refusal(
                    item.row, ctx, "quantity", gettext("times the unit price is too large")
                )
                continue
            seen.add(identity)
            item.obj = order
            item.new = True
            item.line = OrderLine(
                order_id=order.pk,
                key=item.clean["key"],
                stock_code=item.clean["stock_code"],
                description=item.clean["description"],
                quantity=quantity,
                unit_price=item.clean["unit_price"],
                amount=amount,
                amount_base=(amount * order.rate).quantize(Decimal("0.0001")),
            )
            fresh.append(item)
    return fresh


def _refresh_totals(order_ids: set[int]) -> None:
    """An order's totals are the sums of its lines (a later batch may add lines to it)."""
    sums = (
        OrderLine.objects.filter(order_id__in=order_ids)
        .values("order_id")
        .annotate(total=Sum("amount"), total_base=Sum("amount_base"))
        .order_by()
    )
    bulk.update_rows(
        Order,
        ["total", "total_base"],
        [(row["order_id"], row["total"], row["total_base"]) for row in sums],
    )


def _order_events(lines: list[Item], ctx: ImportContext) -> list[timeline.EventData]:
    """One event per order for the lines this batch added to it."""
    per_order: dict[int, list[OrderLine]] = defaultdict(list)
    orders: dict[int, Order] = {}
    for item in lines:
        per_order[item.obj.pk].append(item.line)
        orders[item.obj.pk] = item.obj
    type_id = ContentType.objects.get_for_model(Order).id
    events = []
    for pk, added in per_order.items():
        order = orders[pk]
        kind = ORDER_CANCELLED if order.is_cancellation else ORDER_PLACED
        amount = sum((line.amount for line in added), Decimal(0))
        amount_base = sum((line.amount_base for line in added), Decimal(0))
        payload = kind.payload(
            order_id=pk,
            number=order.number,
            lines=len(added),
            amount=amount_base.normalize() if amount_base else Decimal(0),
            currency=base_currency(),
            original_amount=amount,
            original_currency=order.currency,
        )
        events.append(
            kind.event(
                customer_id=order.customer_id,
                key=timeline.idempotency_key(
                    ctx.source.slug, "crm.order", order.external_id, min(line.key for line in added)
                ),
                payload=payload,
                occurred_at=order.ordered_at,
                actor_id=ctx.actor_id,
                actor_label=ctx.source.name[:120],
                source_type_id=type_id,
                source_id=str(pk),
                source_url=f"/customers/{order.customer_id}/",
            )
        )
    return events


def write_order_lines(rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """Orders by (source, order number) and their lines by key; one event per order and batch."""
    results, items = records.validated(rows, ctx, "order_id", _clean_line, Item)
    orders = _orders_of(items, results, ctx, timezone.now())
    fresh = _new_lines(items, results, ctx, orders)
    bulk.bulk_insert([item.line for item in fresh])
    _refresh_totals({item.obj.pk for item in fresh})
    records.record_events(_order_events(fresh, ctx))
    for item in fresh:
        results[item.index] = RowResult("created", customer_id=item.obj.customer_id)
    return [r or RowResult("failed") for r in results]


import_targets.register(
    ImportTarget(
        key="crm.order_line",
        label=gettext_lazy("Orders and purchase lines"),
        department=Department.SALES,
        fields=ORDER_LINE_FIELDS,
        write_rows=write_order_lines,
        order=42,
        api_id_field="order_id",
    )
)
