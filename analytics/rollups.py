"""Daily roll-ups: the heavy aggregates dashboards read instead of scanning large tables.

Each family is one SQL ``GROUP BY`` per refresh (day x key x owner x country x segment). The
incremental refresh recomputes only the days that have new timeline events since the family's
watermark (events are the one place every department records what happened, with ``recorded_at``).
Per-customer roll-ups (revenue, conversions) are rebuilt for the customers with new events instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import FieldDoesNotExist
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from analytics.models import CustomerSentiment, DailyRollup, PeriodRevenue
from billing.events import INVOICE_ISSUED
from billing.models import DunningNotice, Invoice, Payment, open_amount_expression
from crm.events import (
    CSAT_RECEIVED,
    TICKET_CLOSED,
    TICKET_OPENED,
    TICKET_REOPENED,
    TICKET_REPLIED,
    TICKET_SLA_BREACHED,
    TICKET_SOLVED,
)
from crm.models import Contract, Deal, Satisfaction, Ticket
from customer360 import events
from customer360.bulk import bulk_insert
from customer360.events_core import CUSTOMER_CREATED
from customer360.models import Customer, TimelineEvent
from marketing.models import ConsentChange, Segment, Touch

BATCH = 5000
# A run may miss events committed while it ran; the next run looks back this far behind its watermark.
WATERMARK_OVERLAP = timedelta(minutes=10)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


def days_q(field: str, days: Iterable[date] | None) -> Q:
    """Rows of ``field`` (a datetime) on any of ``days``; everything when ``days`` is None."""
    if days is None:
        return Q()
    if not days:
        return Q(pk__in=[])
    # One index-friendly range over the span; rows of days in between that are not dirty are
    # dropped in ``rebuild`` (cheaper than an OR of hundreds of day ranges).
    start, _end = _day_bounds(min(days))
    _start, end = _day_bounds(max(days))
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def range_q(field: str, low, high) -> Q:
    """``field`` in [``low``, ``high``); an open end where a bound is None. One definition for a
    band's roll-up row and the drill-down that lists its records."""
    return (Q(**{f"{field}__gte": low}) if low is not None else Q()) & (
        Q(**{f"{field}__lt": high}) if high is not None else Q()
    )


@dataclass(frozen=True)
class Family:
    """A roll-up family: how to aggregate it and which timeline events make its days dirty."""

    metric: str
    rows: Callable[[Iterable[date] | None], Iterable[DailyRollup]]
    # The kinds of the events that make a day dirty (read from the kind registry when the refresh
    # runs); None: always fully rebuilt (snapshots, small families).
    dirty_kinds: Callable[[], Iterable[str]] | None
    # The days the family's recent events make dirty; default: the days the events occurred on.
    # Tickets count on the day they were opened, whenever they are answered or solved.
    dirty_dates: Callable[[QuerySet], Iterable[date]] | None = None

    @property
    def dirty_events(self) -> Q | None:
        return None if self.dirty_kinds is None else Q(kind__in=sorted(self.dirty_kinds()))


def _grouped(
    queryset: QuerySet,
    when: str | None,
    customer: str,
    key_fields: list[str],
    key: Callable[[dict], str],
    amount=None,
    owner: str | None = None,
):
    """``queryset`` grouped by local day of ``when``, ``key_fields`` and the customer's dimensions;
    ``when`` None: a snapshot, rows of today (a snapshot family is rebuilt whole on every refresh, so
    only today's rows exist). ``amount`` names a field or an expression to sum; ``owner`` the field
    of the responsible person (default: the customer's owner)."""
    owner = owner or f"{customer}owner_id"
    dimensions = (*key_fields, owner, f"{customer}country", f"{customer}attributes__segment")
    if when is None:
        values, today = queryset.values(*dimensions), timezone.localdate()
    else:
        # A DateField is its own day; a DateTimeField is cut to the local day.
        try:
            is_date = queryset.model._meta.get_field(when).get_internal_type() == "DateField"
        except FieldDoesNotExist:  # an annotation such as "lost_at" (a datetime)
            is_date = False
        values = queryset.annotate(day=F(when) if is_date else TruncDate(when)).values("day", *dimensions)
        today = None
    totals = {"n": Count("pk")} | ({"total": Sum(amount)} if amount is not None else {})
    for row in values.annotate(**totals).order_by():
        yield DailyRollup(
            day=today or row["day"],
            key=key(row),
            owner_id=row[owner] or 0,
            country=row[f"{customer}country"] or "",
            segment=str(row[f"{customer}attributes__segment"] or "")[:40],
            count=row["n"],
            amount=row.get("total") or 0,
        )


def touch_rows(days):
    """Campaign touches per campaign and status ("12:opened")."""
    return _grouped(
        Touch.objects.filter(days_q("occurred_at", days)),
        "occurred_at",
        "customer__",
        ["campaign_id", "status"],
        lambda r: f"{r['campaign_id']}:{r['status']}",
    )


def consent_rows(days):
    """Consent changes by new status ("granted", "withdrawn", "pending")."""
    return _grouped(
        ConsentChange.objects.filter(days_q("changed_at", days)),
        "changed_at",
        "consent__customer__",
        ["new_status"],
        lambda r: r["new_status"],
    )


def new_customer_rows(days):
    return _grouped(Customer.objects.filter(days_q("created_at", days)), "created_at", "", [], lambda r: "")


def lost_customers() -> QuerySet:
    """Customers without an active contract whose last contract was cancelled, with ``lost_at``."""
    last_cancellation = (
        Contract.objects.filter(
            customer=OuterRef("pk"), status=Contract.Status.CANCELLED, cancelled_at__isnull=False
        )
        .order_by("-cancelled_at")
        .values("cancelled_at")[:1]
    )
    # NOT EXISTS, not NOT IN (``exclude(pk__in=...)``): PostgreSQL plans NOT IN as a hashed subplan
    # only while the active contracts' ids fit in work_mem; past that (about 200k customers at the
    # default 4 MB) it scans them once per customer, quadratic. NOT EXISTS is an anti-join at any size.
    active = Contract.objects.active().filter(customer=OuterRef("pk"))
    return (
        Customer.objects.annotate(lost_at=Subquery(last_cancellation))
        .filter(lost_at__isnull=False)
        .filter(~Exists(active))
    )


def lost_customer_rows(days):
    return _grouped(lost_customers(), "lost_at", "", [], lambda r: "")


def segment_size_rows(days):
    """Today's member count of every marketing segment (a snapshot, one query per segment)."""
    for segment in Segment.objects.order_by("id")[:50]:
        members = segment.members(base=Customer.objects.all())
        yield from _grouped(members, None, "", [], lambda r, key=str(segment.pk): key)


def invoiced_rows(days):
    """Gross invoiced per issue date (drafts and cancelled invoices excluded): DSO's sales."""
    invoices = Invoice.objects.exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED])
    if days is not None:
        invoices = invoices.filter(issue_date__gte=min(days), issue_date__lte=max(days))
    return _grouped(invoices, "issue_date", "customer__", [], lambda r: "", "gross_total")


def paid_rows(days):
    """Payments per local day received (on invoices that are not cancelled): DSO's collections."""
    payments = Payment.objects.exclude(invoice__status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED])
    return _grouped(payments.filter(days_q("received_at", days)), "received_at", "invoice__customer__", [],
                    lambda r: "", "amount")  # fmt: skip


def fee_rows(days):
    """Dunning fees charged per local day a notice was sent (invoices not cancelled): they are owed
    like the invoice itself, so receivables include them (otherwise paid fees make them negative)."""
    notices = DunningNotice.objects.exclude(
        invoice__status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED]
    )
    return _grouped(notices.filter(days_q("sent_at", days), fee__gt=0), "sent_at", "invoice__customer__", [],
                    lambda r: "", "fee")  # fmt: skip


#: Days overdue of an open invoice: (key, at least, at most), inclusive; "not_due" is due tomorrow or later.
OPEN_INVOICE_AGES = [
    ("not_due", None, -1),
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
]


def invoice_age_q(today: date, low: int | None, high: int | None) -> Q:
    """Open invoices ``low`` to ``high`` days overdue (today - due date), inclusive."""
    condition = Q()
    if low is not None:
        condition &= Q(due_date__lte=today - timedelta(days=low))
    if high is not None:
        condition &= Q(due_date__gte=today - timedelta(days=high))
    return condition


def open_invoice_rows(days):
    """Open invoices now (a snapshot) per age band and dunning level ("31-60:2"): count and open
    amount (gross + dunning fees - paid). The bands count from the refresh's day."""
    today = timezone.localdate()
    band = Case(*[When(invoice_age_q(today, lo, hi), then=Value(key)) for key, lo, hi in OPEN_INVOICE_AGES],
                default=Value(""))  # fmt: skip
    invoices = Invoice.objects.open().annotate(band=band)
    return _grouped(invoices, None, "customer__", ["band", "dunning_level"],
                     lambda r: f"{r['band']}:{r['dunning_level']}", amount=open_amount_expression())  # fmt: skip


def recovery_rows(days):
    """Dunning notices per local day sent, level and whether the invoice was then paid at that level
    ("2:recovered", "2:open"), as of the refresh."""
    recovered = ExpressionWrapper(
        Q(invoice__status=Invoice.Status.PAID, invoice__dunning_level=F("level")), output_field=BooleanField()
    )
    notices = DunningNotice.objects.filter(days_q("sent_at", days)).annotate(recovered=recovered)
    return _grouped(notices, "sent_at", "invoice__customer__", ["level", "recovered"],
                    lambda r: f"{r['level']}:{'recovered' if r['recovered'] else 'open'}")  # fmt: skip


def _invoice_kinds() -> tuple[str, ...]:
    """Every event of an invoice (paid, cancelled, noticed ...): its source is the invoice."""
    return tuple(
        sorted({*events.kinds(tag="invoice"), *events.kinds(tag="payment"), *events.kinds(tag="dunning")})
    )


def _source_days(records: Callable[[set[int]], QuerySet], field: str) -> Callable[[QuerySet], set[date]]:
    """``Family.dirty_dates`` for events whose source is a record (a ticket, an invoice, a deal): the
    local days of ``field`` of ``records(ids of those sources)``."""

    def days(recent_events: QuerySet) -> set[date]:
        ids = {int(s) for s in recent_events.values_list("source_id", flat=True).distinct() if s.isdigit()}
        rows = records(ids).filter(**{f"{field}__isnull": False}).annotate(day=TruncDate(field))
        return set(rows.values_list("day", flat=True).distinct())

    return days


#: The days the notices of these events' invoices were sent on.
_notice_days = _source_days(lambda ids: DunningNotice.objects.filter(invoice_id__in=ids), "sent_at")


def recommendation_rows(days):
    """Next-best-action recommendations per local day created, action and status now
    ("12:accepted"). Always rebuilt whole: a status changes long after the day it counts on."""
    from insights.models import Recommendation

    return _grouped(Recommendation.objects.all(), "created_at", "customer__", ["action_id", "status"],
                    lambda r: f"{r['action_id']}:{r['status']}")  # fmt: skip


def scored_rows(days):
    """The scored customers now, by group ("treated" / "holdout"): the lift's denominators."""
    from insights.models import CustomerScore

    return _grouped(CustomerScore.objects.all(), None, "customer__", ["holdout"],
                     lambda r: "holdout" if r["holdout"] else "treated")  # fmt: skip


def lifecycle_rows(days):
    """Customers by lifecycle stage now (a snapshot)."""
    return _grouped(Customer.objects.all(), None, "", ["lifecycle"], lambda r: r["lifecycle"])


def churn_band_rows(days):
    """Customers by the band of their learned churn risk now (a snapshot of the core's scores)."""
    from customer360.models import Score
    from customer360.scores import CHURN_RISK

    return _grouped(Score.objects.filter(kind=CHURN_RISK), None, "customer__", ["band"], lambda r: r["band"])


def converted_rows(days):
    """Scored customers by group and local day of their last success (``CustomerConversion``): the
    customers converted in a period that ends today are the rows from its first day on."""
    from analytics.models import CustomerConversion
    from insights.models import CustomerScore

    for holdout, key in ((False, "treated"), (True, "holdout")):
        group = CustomerScore.objects.filter(holdout=holdout).values("customer_id")
        yield from _grouped(CustomerConversion.objects.filter(customer_id__in=group), "last_success_at",
                            "customer__", [], lambda r, key=key: key)  # fmt: skip


# --- Service: tickets by the local day they were opened; owner = the ticket's assignee -------------------
def _tickets_opened(days):
    return Ticket.objects.filter(days_q("opened_at", days))


def _by_ticket(queryset, key_fields, key):
    return _grouped(queryset, "opened_at", "customer__", key_fields, key, owner="assignee_id")


def sla_breached(now: datetime) -> Q:
    """Over ``crm.Ticket``: a target was missed, or an open ticket is past one already."""
    return (
        Q(sla_breached_first_response=True)
        | Q(sla_breached_resolution=True)
        | Q(status__in=Ticket.OPEN_STATUSES, first_response_at__isnull=True, first_response_due__lt=now)
        | Q(status__in=Ticket.OPEN_STATUSES, resolution_due__lt=now)
    )


def ticket_volume_rows(days):
    """Tickets opened per category and channel ("complaint:email")."""
    return _by_ticket(
        _tickets_opened(days), ["category", "channel"], lambda r: f"{r['category']}:{r['channel']}"
    )


def ticket_sla_rows(days):
    """Tickets with an SLA per priority and state at the refresh ("high:breached", "high:met"): an
    open ticket past a due time is breached from then on (the SLA check records it on the ticket
    and the timeline, which makes its day dirty)."""
    breached = ExpressionWrapper(sla_breached(timezone.now()), output_field=BooleanField())
    tickets = _tickets_opened(days).filter(resolution_due__isnull=False).annotate(breached=breached)
    return _by_ticket(tickets, ["priority", "breached"],
                      lambda r: f"{r['priority']}:{'breached' if r['breached'] else 'met'}")  # fmt: skip


#: The bands of the first-response and resolution times: (key, lower bound, upper bound).
TICKET_TIME_BANDS = [
    ("lt1h", timedelta(0), timedelta(hours=1)),
    ("1-4h", timedelta(hours=1), timedelta(hours=4)),
    ("4-8h", timedelta(hours=4), timedelta(hours=8)),
    ("8-24h", timedelta(hours=8), timedelta(days=1)),
    ("1-3d", timedelta(days=1), timedelta(days=3)),
    ("3-7d", timedelta(days=3), timedelta(days=7)),
    ("gt7d", timedelta(days=7), None),
]
TICKET_TIMES = {"first_response": "first_response_at", "resolution": "solved_at"}


def ticket_time_rows(days):
    """Tickets per measure and band of the time it took ("resolution:1-3d")."""
    for measure, end in TICKET_TIMES.items():
        took = ExpressionWrapper(F(end) - F("opened_at"), output_field=DurationField())
        band = Case(
            *[
                When(range_q("took", lo, hi), then=Value(key)) for key, lo, hi in TICKET_TIME_BANDS
            ],  # fmt: skip
            default=Value(""),
        )
        tickets = _tickets_opened(days).filter(**{f"{end}__isnull": False}).annotate(took=took, band=band)
        yield from _by_ticket(tickets, ["band"], lambda r, measure=measure: f"{measure}:{r['band']}")


def csat_rows(days):
    """Satisfaction ratings per local day received and score ("4"); owner = the ticket's assignee."""
    ratings = Satisfaction.objects.filter(days_q("created_at", days))
    return _grouped(ratings, "created_at", "ticket__customer__", ["score"], lambda r: str(r["score"]),
                    owner="ticket__assignee_id")  # fmt: skip


#: What changes a ticket's counts: opened, answered, solved, closed, reopened, an SLA breached.
TICKET_EVENTS = (
    TICKET_OPENED,
    TICKET_REPLIED,
    TICKET_SOLVED,
    TICKET_CLOSED,
    TICKET_REOPENED,
    TICKET_SLA_BREACHED,
)


def _ticket_kinds() -> tuple[str, ...]:
    return tuple(k.kind for k in TICKET_EVENTS)


#: The days the tickets of these events were opened on.
_ticket_open_days = _source_days(lambda ids: Ticket.objects.filter(pk__in=ids), "opened_at")


# --- Sales: deals; owner = the deal's owner --------------------------------------------------------------
def open_deal_rows(days):
    """Open deals now (a snapshot) per stage and month of the expected close ("7:2026-12"; "7:"
    without one): count and value."""
    deals = Deal.objects.open().annotate(close_month=TruncMonth("expected_close"))
    month = lambda r: r["close_month"].strftime("%Y-%m") if r["close_month"] else ""  # noqa: E731
    return _grouped(deals, None, "customer__", ["stage_id", "close_month"], lambda r: f"{r['stage_id']}:{month(r)}",
                     amount="amount", owner="owner_id")  # fmt: skip


def _as_days(value) -> Decimal:
    if isinstance(value, timedelta):
        return Decimal(str(round(value.total_seconds() / 86400, 2)))
    return Decimal(str(round(float(value or 0) / 86400e6, 2)))  # microseconds (SQLite without conversion)


def closed_deal_rows(days):
    """Deals won or lost per local day closed ("won", "lost"), with the sum of their cycle times
    (created to closed) in days as the amount."""
    cycle = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
    deals = Deal.objects.filter(days_q("closed_at", days), status__in=[Deal.Status.WON, Deal.Status.LOST])
    for row in _grouped(deals.annotate(cycle=cycle), "closed_at", "customer__", ["status"], lambda r: r["status"],
                        amount="cycle", owner="owner_id"):  # fmt: skip
        row.amount = _as_days(row.amount)
        yield row


#: The days the deals of these events were closed on (a deal moved back to an open stage stays in
#: its old day until the nightly full refresh).
_deal_close_days = _source_days(lambda ids: Deal.objects.filter(pk__in=ids), "closed_at")


# --- Listening ---------------------------------------------------------------------------------------
#: Customer sentiment bands: (key, at least, below).
MOOD_BANDS = [("negative", None, -0.2), ("neutral", -0.2, 0.2), ("positive", 0.2, None)]


def mood_rows(days):
    """Customers by the band of how they sound (``CustomerSentiment``) now (a snapshot)."""
    band = Case(
        *[When(range_q("score", lo, hi), then=Value(key)) for key, lo, hi in MOOD_BANDS], default=Value("")
    )
    moods = CustomerSentiment.objects.annotate(band=band)
    return _grouped(moods, None, "customer__", ["band"], lambda r: r["band"])


def revenue_band_rows(days):
    """Customers and their revenue per preset period and revenue band ("12m:117"), as of the day of
    the ``PeriodRevenue`` snapshot."""
    rows = PeriodRevenue.objects.values("day", "period", "band", "owner_id", "country", "segment")
    for row in rows.annotate(n=Count("pk"), total=Sum("revenue")).order_by().iterator(chunk_size=BATCH):
        yield DailyRollup(
            day=row["day"],
            key=f"{row['period']}:{row['band']}",
            owner_id=row["owner_id"],
            country=row["country"],
            segment=row["segment"],
            count=row["n"],
            amount=Decimal(f"{row['total']:.2f}"),
        )


def risk_points_rows(days):
    """Customers by the band of their churn-risk points (``CustomerRisk``, with the dimensions it
    carries), as of its last computation: a snapshot of today."""
    from analytics import risk
    from analytics.models import CustomerRisk

    band = Case(
        *(When(risk.band_q(name), then=Value(name)) for name, _l, _h in risk.BANDS), output_field=CharField()
    )
    rows = CustomerRisk.objects.annotate(band=band).values("band", "owner_id", "country", "segment")
    today = timezone.localdate()
    for row in rows.annotate(n=Count("pk")).order_by():
        yield DailyRollup(
            day=today,
            key=row["band"] or "",
            owner_id=row["owner_id"],
            country=row["country"],
            segment=row["segment"],
            count=row["n"],
        )


def _tagged(tag: str) -> Callable[[], tuple[str, ...]]:
    return lambda: events.kinds(tag=tag)


#: The family that reads what the listening computed (each message's sentiment)
MOOD = "listening.mood"
FAMILIES = [
    Family("marketing.touch", touch_rows, _tagged("touch")),
    Family("marketing.consent", consent_rows, _tagged("consent")),
    Family("customers.new", new_customer_rows, lambda: (CUSTOMER_CREATED.kind,)),
    Family("customers.lost", lost_customer_rows, None),
    Family("marketing.segment_size", segment_size_rows, None),
    Family("billing.invoiced", invoiced_rows, lambda: (INVOICE_ISSUED.kind,)),
    Family("billing.fees", fee_rows, _tagged("dunning")),
    Family("billing.paid", paid_rows, _tagged("payment")),
    Family("customers.lifecycle", lifecycle_rows, None),
    Family("billing.recovery", recovery_rows, _invoice_kinds, _notice_days),
    Family("billing.open", open_invoice_rows, None),
    Family("sales.open", open_deal_rows, None),
    Family(MOOD, mood_rows, None),
    Family("sales.closed", closed_deal_rows, _tagged("deal"), _deal_close_days),
    Family("service.volume", ticket_volume_rows, _ticket_kinds, _ticket_open_days),
    Family("service.sla", ticket_sla_rows, _ticket_kinds, _ticket_open_days),
    Family("service.times", ticket_time_rows, _ticket_kinds, _ticket_open_days),
    Family("service.csat", csat_rows, lambda: (CSAT_RECEIVED.kind,)),
]
# Rebuilt with the churn-risk points it counts (``services.customer_risk_refresh``): the customers
# dashboard's chart read 871,000 of them per request at a million customers (75-115 ms).
RISK_POINTS = Family("customers.risk_points", risk_points_rows, None)
# Read from the per-period revenue snapshot, after the per-customer revenue it sums.
REVENUE_BANDS = Family("customers.revenue_band", revenue_band_rows, None)
# Read the learned scores (published by the insights scoring) and the per-customer roll-ups
# (CustomerConversion): refreshed after both.
SCORE_FAMILIES = [
    Family("customers.churn_band", churn_band_rows, None),
    Family("nba.recommendations", recommendation_rows, None),
    Family("nba.scored", scored_rows, None),
    Family("nba.converted", converted_rows, None),
]
#: The score families that read a per-customer roll-up (``CustomerConversion``)
READ_PER_CUSTOMER = frozenset({"nba.converted"})


def dirty_days(family: Family, since: datetime) -> set[date]:
    """Local days the family's events recorded after ``since`` make dirty."""
    recent = TimelineEvent.objects.filter(family.dirty_events, recorded_at__gt=since - WATERMARK_OVERLAP)
    if family.dirty_dates is not None:
        return set(family.dirty_dates(recent))
    return set(recent.annotate(day=TruncDate("occurred_at")).values_list("day", flat=True).distinct())


def rebuild(family: Family, days: set[date] | None) -> int:
    """Replace the family's rows of ``days`` (all rows when None); return the rows written."""
    existing = DailyRollup.objects.filter(metric=family.metric)
    if days is not None:
        existing = existing.filter(day__in=sorted(days))
    existing.delete()
    merged: dict[tuple, DailyRollup] = {}
    for row in family.rows(days):
        if days is not None and row.day not in days:
            continue
        row.metric = family.metric
        identity = (row.day, row.key, row.owner_id, row.country, row.segment)
        if identity in merged:  # e.g. the same segment value written differently
            merged[identity].count += row.count
        else:
            merged[identity] = row
    bulk_insert(merged.values())
    return len(merged)
