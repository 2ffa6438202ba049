"""What crm adds to the core: 360 panels, menu entries, customer conditions and brief lines."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

import crm.calendar  # noqa: F401  (registers the follow-ups and SLA due times of the calendar feed)
from crm.forms import QuickActivityForm
from crm.models import Activity, Contract, Deal, Order, OrderLine, Satisfaction, Ticket
from crm.models.orders import base_currency
from customer360.formatting import day, money
from customer360.linear import negated, without_rows
from customer360.models import Customer
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

RENEWAL_WINDOW_DAYS = 90
PURCHASE_WINDOW = timedelta(days=365)
RECENT_CSAT_DAYS = 30


# --- Reads shared by the panels and the brief (one query each per page, see registry.memo) ---------
OPEN_TICKETS_SHOWN = 50


def active_contracts(customer: Customer) -> list[Contract]:
    return memo(
        customer,
        "crm.contracts",
        lambda: list(
            Contract.objects.active()
            .filter(customer=customer)
            .select_related("product")
            .order_by("renewal_date")[:20]
        ),
    )


def last_activity(customer: Customer) -> Activity | None:
    return memo(
        customer,
        "crm.last_activity",
        lambda: (
            Activity.objects.filter(customer=customer)
            .select_related("user")
            .order_by("-occurred_at", "-id")
            .first()
        ),
    )


def open_tickets_of(customer: Customer) -> list[Ticket]:
    return memo(
        customer,
        "crm.open_tickets",
        lambda: list(
            Ticket.objects.open().filter(customer=customer).order_by("-opened_at", "-id")[:OPEN_TICKETS_SHOWN]
        ),
    )


def last_satisfaction(customer: Customer) -> Satisfaction | None:
    return memo(
        customer,
        "crm.last_csat",
        lambda: (
            Satisfaction.objects.filter(ticket__customer=customer)
            .select_related("ticket")
            .order_by("-created_at", "-id")
            .first()
        ),
    )


@dataclass(frozen=True)
class Purchases:
    """A customer's orders: per currency what was paid in it, and the total in the base currency
    (cancellations subtracted)."""

    orders: int = 0
    by_currency: tuple[tuple[str, Decimal], ...] = ()
    total_base: Decimal = Decimal(0)
    last_order: datetime | None = None
    total_base_12m: Decimal = Decimal(0)

    @property
    def paid_in_base_only(self) -> bool:
        return [c for c, _t in self.by_currency] in ([], [base_currency()])


def purchases_of(customer: Customer) -> Purchases:
    """One query, shared by the panel and the brief."""

    def read() -> Purchases:
        since = timezone.now() - PURCHASE_WINDOW
        rows = list(
            Order.objects.filter(customer=customer)
            .values("currency")
            .annotate(
                n=Count("id", filter=Q(is_cancellation=False)),
                paid=Sum("total"),
                base=Sum("total_base"),
                base_12m=Sum("total_base", filter=Q(ordered_at__gte=since)),
                last=Max("ordered_at", filter=Q(is_cancellation=False)),
            )
            .order_by("currency")
        )
        return Purchases(
            orders=sum(r["n"] for r in rows),
            by_currency=tuple((r["currency"], r["paid"]) for r in rows),
            total_base=sum((r["base"] for r in rows), Decimal(0)),
            last_order=max((r["last"] for r in rows if r["last"]), default=None),
            total_base_12m=sum((r["base_12m"] or Decimal(0) for r in rows), Decimal(0)),
        )

    return memo(customer, "crm.purchases", read)


# --- Panels ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def blank_log_form(language: str | None) -> str:
    """The log-a-call form without data or errors, as HTML, in ``language`` (the active one)."""
    return QuickActivityForm().as_div()


def sales_context(request, customer: Customer, form: QuickActivityForm | None = None) -> dict:
    """Owned products and renewals, open deals, purchases, last contact, log-a-call form: 4 queries."""
    today = timezone.localdate()
    contracts = active_contracts(customer)
    deals = Deal.objects.open().filter(customer=customer).aggregate(count=Count("id"), value=Sum("amount"))
    last_contact = last_activity(customer)
    horizon = today + timedelta(days=RENEWAL_WINDOW_DAYS)
    return {
        "contracts": contracts,
        "renewals_due": [c for c in contracts if c.renewal_date and today <= c.renewal_date <= horizon],
        "open_deals": deals["count"] or 0,
        "open_deal_value": deals["value"] or 0,
        "last_contact": last_contact,
        "purchases": purchases_of(customer),
        "base_currency": base_currency(),
        "can_log": request.user.has_perm("crm.add_activity"),
        "form": form,
        # The empty form is the same for every customer: rendered once per language, because Django's form
        # templates cost more than the panel's three queries.
        "form_html": form.as_div() if form is not None else blank_log_form(get_language()),
        "today": today,
    }


def service_context(request, customer: Customer) -> dict:
    """Open tickets with SLA state, last CSAT, open-complaint flag: 2 queries, shared with the brief."""
    open_tickets = open_tickets_of(customer)
    return {
        "open_tickets": open_tickets[:10],
        "open_count": len(open_tickets),
        "open_complaint": any(t.is_open_complaint for t in open_tickets),
        "last_csat": last_satisfaction(customer),
        "can_create": request.user.has_perm("crm.add_ticket"),
    }


panels.register(
    Panel(
        key="sales",
        title=_("Sales"),
        template="crm/_sales_panel.html",
        context=sales_context,
        order=20,
        department="sales",
        permission="crm.view_deal",
    )
)
panels.register(
    Panel(
        key="service",
        title=_("Service"),
        template="crm/_service_panel.html",
        context=service_context,
        order=30,
        department="service",
        permission="crm.view_ticket",
    )
)

navigation.register(
    NavItem(
        key="deals",
        label=_("Deals"),
        url_name="crm:deal_list",
        order=20,
        permission="crm.view_deal",
        group="sales",
    )
)
navigation.register(
    NavItem(
        key="exchange_rates",
        label=_("Exchange rates"),
        url_name="crm:exchange_rates",
        order=95,
        permission="crm.change_exchangerate",
        group="admin",
    )
)
navigation.register(
    NavItem(
        key="tickets",
        label=_("Tickets"),
        url_name="crm:ticket_list",
        order=30,
        permission="crm.view_ticket",
        group="sales",
    )
)


# --- Conditions ------------------------------------------------------------------------------------
def _in(qs) -> Q:
    return Q(pk__in=qs.values("customer_id"))


def _bool(qs):
    def build(op: str, value) -> Q:
        return _in(qs()) if bool(value) else without_rows(qs())

    return build


def _count_condition(rows, op: str, value) -> Q:
    """Customers whose number of ``rows`` satisfies ``op value`` (customers without rows count 0)."""
    value = int(value)
    if (op, value) in (("gte", 1), ("gt", 0)):
        # "At least one" is an EXISTS per listed customer, not a count per customer of all the rows.
        return Q(Exists(rows.filter(customer_id=OuterRef("pk"))))
    counted = rows.values("customer_id").annotate(n=Count("id"))
    matching = Q(pk__in=counted.filter(compare("n", op, value)).values("customer_id"))
    zero_matches = {
        "eq": value == 0,
        "ne": value != 0,
        "gt": value < 0,
        "gte": value <= 0,
        "lt": value > 0,
        "lte": value >= 0,
    }[op]
    return matching | without_rows(rows) if zero_matches else matching


def _last_csat(op: str, value) -> Q:
    latest = Satisfaction.objects.filter(ticket__customer=OuterRef("pk")).order_by("-created_at", "-id")
    scored = Customer.objects.annotate(crm_last_csat=Subquery(latest.values("score")[:1])).filter(
        compare("crm_last_csat", op, int(value))
    )
    return Q(pk__in=scored.values("pk"))


def _renewal_within(op: str, value) -> Q:
    today = timezone.localdate()
    days = int(value) - (1 if op == "lt" else 0)
    return _in(
        Contract.objects.active().filter(
            renewal_date__gte=today, renewal_date__lte=today + timedelta(days=days)
        )
    )


def _days_since_last_contact(op: str, value) -> Q:
    """Days since the newest activity; customers never contacted count as infinitely long ago."""
    days = int(value)
    now = timezone.now()
    last = Activity.objects.values("customer_id").annotate(last=Max("occurred_at"))
    # "more than N days" <=> the last contact lies before now - N days (whole days count down).
    boundary = {
        "gt": Q(last__lt=now - timedelta(days=days + 1)) | Q(last=now - timedelta(days=days + 1)),
        "gte": Q(last__lte=now - timedelta(days=days)),
        "lt": Q(last__gt=now - timedelta(days=days)),
        "lte": Q(last__gt=now - timedelta(days=days + 1)),
        "eq": Q(last__gt=now - timedelta(days=days + 1), last__lte=now - timedelta(days=days)),
    }
    if op == "ne":
        return negated(_days_since_last_contact("eq", value))
    if op not in boundary:
        raise ValueError(f"unknown operator {op!r}")
    matching = Q(pk__in=last.filter(boundary[op]).values("customer_id"))
    return matching | without_rows(Activity.objects.all()) if op in ("gt", "gte") else matching


def _purchases_condition(window: timedelta | None):
    """Customers whose orders (base currency, cancellations subtracted) satisfy ``op value``;
    customers without orders count 0."""

    def build(op: str, value) -> Q:
        value = Decimal(str(value))
        lines = OrderLine.objects.all()
        if window is not None:
            lines = lines.filter(order__ordered_at__gte=timezone.now() - window)
        totals = lines.values("order__customer_id").annotate(total=Sum("amount_base")).order_by()
        matching = Q(pk__in=totals.filter(compare("total", op, value)).values("order__customer_id"))
        zero = {"eq": value == 0, "ne": value != 0, "gt": value < 0, "gte": value <= 0, "lt": value > 0,
                "lte": value >= 0}[op]  # fmt: skip
        return matching | without_rows(lines, "order__customer_id") if zero else matching

    return build


INT_OPS = ("eq", "ne", "gt", "gte", "lt", "lte")
for condition in (
    Condition(
        key="crm.open_complaint",
        label=_("Has an open complaint"),
        department="service",
        value_type="bool",
        build=_bool(lambda: Ticket.objects.open_complaints()),
    ),
    Condition(
        key="crm.open_tickets",
        label=_("Open tickets"),
        department="service",
        value_type="int",
        build=lambda op, value: _count_condition(Ticket.objects.open(), op, value),
        operators=INT_OPS,
        list_filter=ListFilter("open_tickets", "gte", _("Open tickets at least")),
    ),
    Condition(
        key="crm.last_csat",
        label=_("Last satisfaction score (1-5)"),
        department="service",
        value_type="int",
        build=_last_csat,
        operators=INT_OPS,
    ),
    Condition(
        key="crm.owns_product",
        label=_("Owns product (code)"),
        department="sales",
        value_type="str",
        build=lambda op, value: _in(Contract.objects.active().filter(compare("product__code", op, value))),
        operators=("eq", "contains"),
    ),
    Condition(
        key="crm.renewal_within_days",
        label=_("Renewal due within days"),
        department="sales",
        value_type="int",
        build=_renewal_within,
        operators=("lte", "lt"),
    ),
    Condition(
        key="crm.open_deal",
        label=_("Has an open deal"),
        department="sales",
        value_type="bool",
        build=_bool(lambda: Deal.objects.open()),
    ),
    Condition(
        key="crm.days_since_last_contact",
        label=_("Days since last contact"),
        department="sales",
        value_type="int",
        build=_days_since_last_contact,
        operators=("gt", "gte", "lt", "lte", "eq", "ne"),
    ),
    Condition(
        key="crm.purchases_lifetime",
        label=_("Purchases, lifetime (base currency)"),
        department="sales",
        value_type="decimal",
        build=_purchases_condition(None),
        operators=INT_OPS,
    ),
    Condition(
        key="crm.purchases_12m",
        label=_("Purchases in the last 12 months (base currency)"),
        department="sales",
        value_type="decimal",
        build=_purchases_condition(PURCHASE_WINDOW),
        operators=INT_OPS,
    ),
):
    conditions.register(condition)


# --- Brief -----------------------------------------------------------------------------------------
def service_brief(customer: Customer, user) -> list[BriefItem]:
    """Open complaints, SLA breaches, a recent low CSAT: 2 queries."""
    items: list[BriefItem] = []
    now = timezone.now()
    open_tickets = open_tickets_of(customer)
    complaints = [t for t in open_tickets if t.is_open_complaint]
    for ticket in complaints[:3]:
        days = (now - ticket.opened_at).days
        items.append(
            BriefItem(
                "red",
                gettext("Open complaint for %(days)s days: %(subject)s")
                % {"days": days, "subject": ticket.subject},
                "service",
                ticket.opened_at,
            )
        )
    if complaints:
        items.append(BriefItem("avoid", gettext("Do not pitch offers while a complaint is open."), "service"))
    for ticket in [t for t in open_tickets if t.sla_state == "breached"][:3]:
        items.append(
            BriefItem(
                "red",
                gettext("SLA breached on ticket: %(subject)s") % {"subject": ticket.subject},
                "service",
                ticket.first_response_breached_at or ticket.resolution_breached_at,
            )
        )
    csat = last_satisfaction(customer)
    if csat and csat.created_at >= now - timedelta(days=RECENT_CSAT_DAYS) and csat.score <= 2:
        items.append(
            BriefItem(
                "red",
                gettext("Low satisfaction (%(score)s/5) on: %(subject)s")
                % {"score": csat.score, "subject": csat.ticket.subject},
                "service",
                csat.created_at,
            )
        )
        if not complaints:
            items.append(
                BriefItem(
                    "avoid", gettext("Do not pitch offers right after a poor service experience."), "service"
                )
            )
    return items


def sales_brief(customer: Customer, user) -> list[BriefItem]:
    """Renewals due, the last contact and purchases: 3 queries (shared with the panel)."""
    today = timezone.localdate()
    items: list[BriefItem] = []
    horizon = today + timedelta(days=RENEWAL_WINDOW_DAYS)
    due = [c for c in active_contracts(customer) if c.renewal_date and today <= c.renewal_date <= horizon]
    for contract in due[:3]:
        weeks = (contract.renewal_date - today).days // 7
        items.append(
            BriefItem(
                "info",
                gettext("%(product)s renews on %(date)s (in %(weeks)s weeks).")
                % {
                    "product": contract.product.name,
                    "date": day(contract.renewal_date),
                    "weeks": weeks,
                },
                "sales",
            )
        )
    last = last_activity(customer)
    if last:
        who = (last.user.get_full_name() or last.user.get_username()) if last.user else gettext("someone")
        items.append(
            BriefItem(
                "info",
                gettext("Last contact %(date)s: %(kind)s by %(who)s — %(subject)s")
                % {
                    "date": day(last.occurred_at),
                    "kind": last.get_kind_display(),
                    "who": who,
                    "subject": last.subject,
                },
                "sales",
                last.occurred_at,
            )
        )
    else:
        items.append(BriefItem("info", gettext("No contact logged yet."), "sales"))
    bought = purchases_of(customer)
    if bought.orders:
        items.append(
            BriefItem(
                "info",
                ngettext(
                    "Bought %(total)s in %(orders)s order, %(recent)s in the last 12 months; last order %(date)s.",
                    "Bought %(total)s in %(orders)s orders, %(recent)s in the last 12 months; last order %(date)s.",
                    bought.orders,
                )
                % {
                    "total": money(bought.total_base, base_currency()),
                    "orders": bought.orders,
                    "recent": money(bought.total_base_12m, base_currency()),
                    "date": day(bought.last_order),
                },
                "sales",
                bought.last_order,
            )
        )
    return items


brief_sources.register(BriefSource(key="crm.service", items=service_brief, order=30))
brief_sources.register(BriefSource(key="crm.sales", items=sales_brief, order=20))

from crm import imports, order_imports  # noqa: E402,F401  (registers import targets)
