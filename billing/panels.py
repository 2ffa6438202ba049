"""What billing contributes to the core: the 360 panel, menu entries, customer conditions, brief."""

from __future__ import annotations

import operator
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.models import (
    ZERO,
    Invoice,
    Payment,
    format_money,
    open_amount_expression,
    open_principal_expression,
    sum_money,
)
from customer360 import events
from customer360.formatting import day
from customer360.linear import negated, without_rows
from customer360.models import Department
from customer360.registry import (
    BriefItem,
    BriefSource,
    Condition,
    ListFilter,
    NavItem,
    Panel,
    brief_sources,
    compare,
    conditions,
    memo,
    navigation,
    panels,
)

REVENUE_WINDOW = timedelta(days=365)


# --- panel ---------------------------------------------------------------------------------------
def open_invoices(customer) -> list[Invoice]:
    """The customer's open invoices, worst first, read once per page for the panel and the brief."""
    return memo(
        customer,
        "billing.open_invoices",
        lambda: list(
            Invoice.objects.filter(customer=customer, status__in=Invoice.OPEN_STATUSES).order_by(
                "-dunning_level", "due_date", "id"
            )[:20]
        ),
    )


def panel_context(request, customer) -> dict:
    """Key billing facts of one customer in four queries, however many invoices there are.

    ``open_amount`` is what the customer still owes (invoices + dunning fees), ``open_principal``
    the invoices alone and ``open_fees`` the fees: the panel and the brief quote them the same way."""
    today = timezone.localdate()
    is_open = Q(status__in=Invoice.OPEN_STATUSES)
    facts = Invoice.objects.filter(customer=customer).aggregate(
        lifetime=sum_money("paid_amount", filter=~Q(status=Invoice.Status.CANCELLED)),
        open_count=Count("id", filter=is_open),
        open_amount=sum_money(open_amount_expression(), filter=is_open),
        open_principal=sum_money(open_principal_expression(), filter=is_open),
        max_level=Max("dunning_level", filter=is_open),
        oldest_due=Min("due_date", filter=is_open & Q(due_date__lt=today)),
        promises=Count("id", filter=is_open & Q(promise_to_pay_date__gte=today)),
        next_promise=Min("promise_to_pay_date", filter=is_open & Q(promise_to_pay_date__gte=today)),
        disputed=Count("id", filter=is_open & Q(disputed=True)),
    )
    revenue_12m = (
        Payment.objects.filter(
            invoice__customer=customer, received_at__gte=timezone.now() - REVENUE_WINDOW
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    # Money received in other ways (imported shop orders, net of cancellations) counts too, read
    # from the timeline's revenue-tagged events; billing's own payments are counted from its records
    # above. A won deal is not money received: it is invoiced and paid later, and counted then.
    others_lifetime, others_12m = events.revenue_sums(
        customer,
        since=timezone.now() - REVENUE_WINDOW,
        excluding_department=Department.ACCOUNTING,
    )
    urgent = open_invoices(customer)[:3]
    for invoice in urgent:
        invoice.overdue_days = invoice.days_overdue(today)
    return {
        **facts,
        # Money on the 360 page always says what it includes: the open amount is invoices + fees.
        "open_fees": max(facts["open_amount"] - facts["open_principal"], ZERO),
        "max_level": facts["max_level"] or 0,
        "oldest_overdue_days": (today - facts["oldest_due"]).days if facts["oldest_due"] else 0,
        "revenue_12m": revenue_12m + others_12m,
        "lifetime": facts["lifetime"] + others_lifetime,
        "urgent": urgent,
        "can_view": request.user.has_perm("billing.view_invoice"),
        "can_add": request.user.has_perm("billing.add_invoice"),
    }


panels.register(
    Panel(
        key="billing",
        title=gettext_lazy("Invoices and payments"),
        template="billing/_panel.html",
        context=panel_context,
        order=40,
        department="accounting",
    )
)

navigation.register(
    NavItem(
        key="invoices",
        label=gettext_lazy("Invoices"),
        url_name="billing:invoice_list",
        order=40,
        group="billing",
        permission="billing.view_invoice",
    )
)
navigation.register(
    NavItem(
        key="dunning",
        label=gettext_lazy("Dunning"),
        url_name="billing:dunning",
        order=41,
        group="billing",
        permission="billing.view_dunningpolicy",
    )
)


# --- conditions ----------------------------------------------------------------------------------
_PY_OPS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte")


def _per_customer(annotation, op: str, value, zero, invoices=None) -> Q:
    """Customers whose aggregate over their open invoices satisfies ``op value``.

    Customers without any open invoice count as ``zero`` (level 0, nothing overdue ...), so
    "dunning level < 2" also finds customers who owe nothing.
    """
    invoices = Invoice.objects.open() if invoices is None else invoices
    if op not in _PY_OPS:
        raise ValueError(f"unknown operator {op!r}")
    matching = (
        invoices.order_by().values("customer_id").annotate(fact=annotation).filter(compare("fact", op, value))
    )
    condition = Q(pk__in=matching.values("customer_id"))
    if _PY_OPS[op](zero, value):
        condition |= without_rows(invoices)
    return condition


def dunning_level_condition(op: str, value) -> Q:
    level = int(value)
    if op in ("gt", "gte") and not _PY_OPS[op](0, level):
        # "The highest level is at least N" is "some open invoice is at level N or more": one EXISTS
        # per listed customer instead of the highest level of every customer who owes anything
        # (0.55 s for the customer list's first page at a million customers).
        higher = Invoice.objects.open().filter(customer_id=OuterRef("pk"), **{f"dunning_level__{op}": level})
        return Q(Exists(higher))
    return _per_customer(Max("dunning_level"), op, level, 0)


def overdue_days_condition(op: str, value) -> Q:
    # max days overdue = today - the oldest due date among overdue open invoices; compared as days
    # so the SQL stays portable (no date arithmetic in the database).
    today = timezone.localdate()
    days = int(value)
    overdue = Invoice.objects.overdue_on(today)
    # "more days overdue" is "an older due date": flip the operator and compare dates.
    flipped = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "ne": "ne"}[op]
    matching = (
        overdue.order_by()
        .values("customer_id")
        .annotate(oldest=Min("due_date"))
        .filter(compare("oldest", flipped, today - timedelta(days=days)))
    )
    condition = Q(pk__in=matching.values("customer_id"))
    if _PY_OPS[op](0, days):
        condition |= without_rows(overdue)
    return condition


def overdue_amount_condition(op: str, value) -> Q:
    today = timezone.localdate()
    return _per_customer(
        Sum(open_amount_expression()),
        op,
        Decimal(str(value)),
        ZERO,
        invoices=Invoice.objects.overdue_on(today),
    )


def open_invoices_condition(op: str, value) -> Q:
    return _per_customer(Count("id"), op, int(value), 0)


def revenue_12m_condition(op: str, value) -> Q:
    since = timezone.now() - REVENUE_WINDOW
    payments = Payment.objects.filter(received_at__gte=since).order_by()
    matching = (
        payments.values("invoice__customer_id")
        .annotate(total=Sum("amount"))
        .filter(compare("total", op, Decimal(str(value))))
    )
    condition = Q(pk__in=matching.values("invoice__customer_id"))
    if _PY_OPS[op](ZERO, Decimal(str(value))):
        condition |= without_rows(payments, "invoice__customer_id")
    return condition


def paused_invoices():
    """Open invoices whose escalation currently waits: paused, promised or disputed."""
    today = timezone.localdate()
    return Invoice.objects.open().filter(
        (Q(dunning_paused=True) & (Q(dunning_paused_until__isnull=True) | Q(dunning_paused_until__gte=today)))
        | Q(promise_to_pay_date__gte=today)
        | Q(disputed=True)
    )


def dunning_paused_condition(op: str, value) -> Q:
    paused = Q(pk__in=paused_invoices().order_by().values("customer_id"))
    wanted = bool(value) if op == "eq" else not bool(value)
    return paused if wanted else negated(paused)


for _condition in (
    Condition("billing.dunning_level", gettext_lazy("Dunning level (highest open invoice)"), "accounting", "int",
              dunning_level_condition, NUMBER_OPS, order=40,
              list_filter=ListFilter("dunning_level", "gte", gettext_lazy("Dunning level at least"))),
    Condition("billing.overdue_days", gettext_lazy("Days overdue (oldest open invoice)"), "accounting", "int",
              overdue_days_condition, NUMBER_OPS, order=41),
    Condition("billing.overdue_amount", gettext_lazy("Overdue amount (EUR)"), "accounting", "decimal",
              overdue_amount_condition, NUMBER_OPS, order=42),
    Condition("billing.open_invoices", gettext_lazy("Open invoices"), "accounting", "int",
              open_invoices_condition, NUMBER_OPS, order=43),
    Condition("billing.revenue_12m", gettext_lazy("Revenue in the last 12 months (EUR)"), "accounting", "decimal",
              revenue_12m_condition, NUMBER_OPS, order=44),
    Condition("billing.dunning_paused", gettext_lazy("Dunning paused (pause, promise or dispute)"), "accounting",
              "bool", dunning_paused_condition, ("eq",), order=45),
):  # fmt: skip
    conditions.register(_condition)


# --- brief ---------------------------------------------------------------------------------------
def open_amount_text(invoice: Invoice) -> str:
    """The open amount and what it includes, in the panel's words: "EUR 1,250.00 open: invoice
    EUR 1,240.00 + dunning fees EUR 10.00"."""
    language = (translation.get_language() or "en")[:2]
    total = format_money(invoice.open_amount, invoice.currency, language)
    if not invoice.open_fees:
        return _("%(total)s open") % {"total": total}
    return _("%(total)s open: invoice %(principal)s + dunning fees %(fees)s") % {
        "total": total,
        "principal": format_money(invoice.open_principal, invoice.currency, language),
        "fees": format_money(invoice.open_fees, invoice.currency, language),
    }


def brief_items(customer, user) -> list[BriefItem]:
    """Red: the worst overdue invoice; avoid: upgrades at level 2+; info: payment promises. One query."""
    today = timezone.localdate()
    invoices = open_invoices(customer)
    items: list[BriefItem] = []
    overdue = [i for i in invoices if i.due_date < today]
    if overdue:
        worst = overdue[0]
        when = worst.last_dunned_on or worst.due_date + timedelta(days=1)
        occurred = timezone.make_aware(timezone.datetime.combine(when, timezone.datetime.min.time()))
        text = _("Invoice %(number)s is %(days)s days overdue (dunning level %(level)s, %(amount)s)") % {
            "number": worst.number,
            "days": worst.days_overdue(today),
            "level": worst.dunning_level,
            "amount": open_amount_text(worst),
        }
        if len(overdue) > 1:
            text += " " + _("and %(count)s more overdue invoices") % {"count": len(overdue) - 1}
        items.append(BriefItem("red", text, "accounting", occurred))
    level = max((i.dunning_level for i in invoices), default=0)
    if level >= 2:
        items.append(
            BriefItem(
                "avoid", _("Do not pitch upgrades: dunning level %(level)s") % {"level": level}, "accounting"
            )
        )
    for invoice in invoices:
        if invoice.promise_active(today):
            items.append(
                BriefItem(
                    "info",
                    _("Payment of invoice %(number)s promised by %(date)s") % {
                        "number": invoice.number, "date": day(invoice.promise_to_pay_date)
                    },
                    "accounting",
                )
            )  # fmt: skip
        elif invoice.disputed:
            items.append(
                BriefItem(
                    "info", _("Invoice %(number)s is disputed") % {"number": invoice.number}, "accounting"
                )
            )
    return items


brief_sources.register(BriefSource(key="billing", items=brief_items, order=40))

from billing import imports  # noqa: E402,F401  (registers import targets)
