"""Per-customer roll-ups: revenue per customer and day (the revenue concentration) and each
customer's last success (the next-best-action lift), rebuilt for the customers with new events."""

from __future__ import annotations

import math
from datetime import date, datetime

from django.db import connection
from django.db.models import Exists, F, FloatField, Func, Max, Min, OuterRef, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Substr, TruncDate

from analytics.models import CustomerRevenue, PeriodRevenue, YearRevenue
from analytics.periods import PRESETS, period_bounds
from analytics.rollups import BATCH, WATERMARK_OVERLAP
from billing.models import Invoice
from crm.events import ORDER_CANCELLED, ORDER_PLACED
from crm.models import Order
from customer360 import events
from customer360.bulk import insert_from_query
from customer360.models import Customer, TimelineEvent


# --- Revenue per customer (for the revenue concentration) ---------------------------------------------
class RoundFloat(Func):
    """``ROUND(x)`` of a float, as a float (Django's ``Round`` casts to numeric on PostgreSQL, which
    makes summing ~100k revenues several times slower)."""

    function = "ROUND"
    output_field = FloatField()


def revenue_events(since: datetime):
    """The events recorded after ``since`` that change a customer's revenue (invoices, orders)."""
    return TimelineEvent.objects.filter(
        kind__in=events.kinds(tag="invoice") + (ORDER_PLACED.kind, ORDER_CANCELLED.kind),
        recorded_at__gt=since - WATERMARK_OVERLAP,
    )


#: A full rebuild writes its rows in the order of their days. A period's rows then lie together in
#: the table: a custom period's concentration or lift read 28,000 pages of the revenue rows at a
#: million customers for half a year written by customer, a third of them written by day (0.11
#: instead of 0.24 s per scan). Rows a refresh adds for a few customers come after them.
BY_DAY = " ORDER BY day"

REVENUE_COLUMNS = [
    "customer", "day", "amount", "owner_id", "country", "segment", "previous_day", "next_day",
    "previous_amount", "second_previous_day", "second_next_day", "first_day", "last_day", "running", "rest",
]  # fmt: skip


def _revenue_parts(invoices, orders) -> list[tuple[str, tuple]]:
    """The SQL of the invoices' and the orders' revenue per customer and day, with the customer's
    dimensions (columns customer_id, day, amount, owner, country, segment)."""
    per_day = [
        invoices.values("customer_id", day=F("issue_date")).annotate(
            amount=Cast(Sum("gross_total"), FloatField())
        ),
        orders.annotate(day=TruncDate("ordered_at"))
        .values("customer_id", "day")
        .annotate(amount=Cast(Sum("total_base"), FloatField())),
    ]
    return [
        rows.annotate(
            owner=Coalesce("customer__owner_id", 0),
            country=Coalesce("customer__country", Value("")),
            segment=Coalesce(Substr(KeyTextTransform("segment", "customer__attributes"), 1, 40), Value("")),
        )
        .values_list("customer_id", "day", "amount", "owner", "country", "segment")
        .order_by()
        .query.sql_with_params()
        for rows in per_day
    ]


def customer_revenue_rebuild(since: datetime | None) -> int:
    """Refresh ``CustomerRevenue``: everyone (``since`` None) or the customers with invoice or order
    events (issued, cancelled, ordered ...) recorded after ``since``. Revenue per customer and day is
    the invoices' gross total plus the orders' total in the base currency (cancellations subtract).
    Returns the rows written."""
    invoices = Invoice.objects.exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED])
    orders = Order.objects.all()
    existing = CustomerRevenue.objects.all()
    if since is not None:
        changed = revenue_events(since).values("customer_id")
        invoices = invoices.filter(customer_id__in=changed)
        orders = orders.filter(customer_id__in=changed)
        existing = existing.filter(customer_id__in=changed)
    existing.delete()
    parts = _revenue_parts(invoices, orders)
    # One (customer, day) row from both sources, computed and written by the database: 240,000 rows
    # at 100k customers never pass through Python.
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in map(CustomerRevenue._meta.get_field, REVENUE_COLUMNS))
    union = " UNION ALL ".join(f"SELECT * FROM ({sql}) AS part{n}" for n, (sql, _params) in enumerate(parts))  # noqa: S608
    with connection.cursor() as cursor:
        # Table and column names are the model's; the parts are the ORM's own SQL (their columns are
        # named customer_id, day, amount, owner, country, segment).
        # Every row of a customer is written together, so the neighbouring days are the customer's.
        cursor.execute(
            f"INSERT INTO {quote(CustomerRevenue._meta.db_table)} ({columns})"  # noqa: S608
            " SELECT customer_id, day, amount, owner, country, segment,"
            " COALESCE(LAG(day) OVER w, %s), COALESCE(LEAD(day) OVER w, %s),"
            " COALESCE(LAG(amount) OVER w, 0), COALESCE(LAG(day, 2) OVER w, %s), COALESCE(LEAD(day, 2) OVER w, %s),"
            # One sort serves every window: the customer's whole partition is a prefix of w's order.
            " MIN(day) OVER customer, MAX(day) OVER customer, SUM(amount) OVER w,"
            " SUM(amount) OVER customer - SUM(amount) OVER w + amount"
            " FROM (SELECT customer_id, day, SUM(amount) AS amount, MAX(owner) AS owner,"
            " MAX(country) AS country, MAX(segment) AS segment"
            f" FROM ({union}) AS revenue GROUP BY customer_id, day) AS per_day"
            " WINDOW customer AS (PARTITION BY customer_id), w AS (customer ORDER BY day)"
            f"{BY_DAY if since is None else ''}",
            [
                date.min,
                date.max,
                date.min,
                date.max,
                *(param for _sql, params in parts for param in params),
            ],
        )
        return cursor.rowcount


# --- Revenue per preset period (the revenue concentration's snapshot) ----------------------------------
#: The revenues of one band lie within 1 % of each other (about 231 bands per power of ten). A top
#: share ranks the customers of one band: at 1M customers, right after a refresh (before autovacuum
#: cleaned the rebuilt table), 12 months took 0.56 s with 5 % bands and 0.08 s with 1 % bands,
#: which add up 23,333 band rows instead of 6,643.
BAND_RATIO = 1.01


def _totals(revenue, start: date, end: date):
    """Each customer's revenue from ``start`` to ``end`` (rounded to cents) with its dimensions:
    ``CustomerRevenue`` carries the customer's dimensions of its last refresh on every row."""
    return (
        revenue.filter(day__gte=start, day__lte=end)
        .values("customer_id")
        .annotate(
            revenue=RoundFloat(Sum("amount") * 100) / 100,
            owner=Max("owner_id"),
            country_=Max("country"),
            segment_=Max("segment"),
        )  # fmt: skip
        .order_by()
    )


def period_revenue_rebuild(today: date, since: datetime | None = None) -> int:
    """Rebuild ``PeriodRevenue``: every customer's revenue (rounded to cents, above zero) in each
    preset period ending ``today``, with its band; return the rows written. ``since``: only the
    customers with revenue events recorded after it, in a snapshot of ``today`` (at a million
    customers the whole snapshot is 2.2M rows and took 52 s; a refresh every 15 minutes found some
    new invoice nearly every time)."""
    existing = PeriodRevenue.objects.all()
    revenue = CustomerRevenue.objects.all()
    if since is not None:
        changed = revenue_events(since).values("customer_id")
        existing, revenue = existing.filter(customer_id__in=changed), revenue.filter(customer_id__in=changed)
    existing.delete()
    quote = connection.ops.quote_name
    columns = ["period", "day", "customer", "revenue", "band", "owner_id", "country", "segment"]
    columns = ", ".join(quote(PeriodRevenue._meta.get_field(name).column) for name in columns)
    written = 0
    for period in PRESETS:
        sql, params = _totals(revenue, *period_bounds(period, today)).query.sql_with_params()
        with connection.cursor() as cursor:
            # The table and columns are the model's; the totals are the ORM's own SQL.
            cursor.execute(
                f"INSERT INTO {quote(PeriodRevenue._meta.db_table)} ({columns})"  # noqa: S608
                " SELECT %s, %s, customer_id, revenue, FLOOR(LN(revenue) / %s), owner, country_, segment_"
                f" FROM ({sql}) AS totals WHERE revenue > 0",
                [period, today, math.log(BAND_RATIO), *params],
            )
            written += cursor.rowcount
    return written


def year_revenue_rebuild(since: datetime | None = None) -> int:
    """Rebuild ``YearRevenue``: every calendar year with revenue (``since`` None), or the years in which
    the customers with revenue events recorded after ``since`` have revenue days (all their days were
    rewritten, with their dimensions of now). Return the rows written."""
    revenue = CustomerRevenue.objects.all()
    if since is None:
        first_last = revenue.aggregate(first=Min("day"), last=Max("day"))  # by the index on the day
        years = range(first_last["first"].year, first_last["last"].year + 1) if first_last["first"] else []
        YearRevenue.objects.all().delete()
    else:
        changed = revenue.filter(customer_id__in=revenue_events(since).values("customer_id"))
        years = sorted({day.year for day in changed.dates("day", "year")})
        YearRevenue.objects.filter(year__in=years).delete()
    quote = connection.ops.quote_name
    columns = ["year", "band", "revenue", "customers", "owner_id", "country", "segment"]
    columns = ", ".join(quote(YearRevenue._meta.get_field(name).column) for name in columns)
    written = 0
    for year in years:
        sql, params = _totals(revenue, date(year, 1, 1), date(year, 12, 31)).query.sql_with_params()
        with connection.cursor() as cursor:
            # The table and columns are the model's; the totals are the ORM's own SQL.
            cursor.execute(
                f"INSERT INTO {quote(YearRevenue._meta.db_table)} ({columns})"  # noqa: S608
                " SELECT %s, FLOOR(LN(revenue) / %s), revenue, COUNT(*), owner, country_, segment_"
                f" FROM ({sql}) AS totals WHERE revenue > 0 GROUP BY 2, 3, 5, 6, 7",
                [year, math.log(BAND_RATIO), *params],
            )
            written += cursor.rowcount
    return written


# --- Conversions (for the next-best-action lift) -------------------------------------------------------
def success_kinds() -> list[str]:
    """Event kinds that count as success for any active action."""
    from insights.models import Action

    kinds = set()
    for text in Action.objects.filter(is_active=True).values_list("success_kinds", flat=True):
        kinds.update(k.strip() for k in text.split(",") if k.strip())
    return sorted(kinds)


def conversions_rebuild(since: datetime | None) -> int:
    """Refresh ``CustomerConversion``: everyone (``since`` None) or the customers with success events
    recorded after ``since``."""
    from analytics.models import CustomerConversion

    successes = TimelineEvent.objects.filter(kind__in=success_kinds())
    if since is not None:
        customers = successes.filter(recorded_at__gt=since - WATERMARK_OVERLAP).values("customer_id")
        successes = successes.filter(customer_id__in=customers)
    else:
        CustomerConversion.objects.all().delete()
    rows = successes.values("customer_id").annotate(last=Max("occurred_at")).order_by()
    if since is None:  # everyone: straight from the events into the emptied table
        return insert_from_query(
            CustomerConversion, ["customer_id", "last_success_at"], rows.values_list("customer_id", "last")
        )
    objects = [CustomerConversion(customer_id=r["customer_id"], last_success_at=r["last"]) for r in rows]
    CustomerConversion.objects.bulk_create(
        objects,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["customer"],
        update_fields=["last_success_at"],
    )
    return len(objects)


def success_days_rebuild(since: datetime | None) -> int:
    """Refresh ``SuccessDay``: everyone (``since`` None) or the customers with success events recorded
    after ``since``. Each of a customer's success days (local dates) with the one before it, computed
    and written by the database. Returns the rows written."""
    from analytics.models import SuccessDay
    from insights.models import CustomerScore

    kinds = success_kinds()
    successes = TimelineEvent.objects.filter(kind__in=kinds)
    existing = SuccessDay.objects.all()
    if since is not None:
        changed = successes.filter(recorded_at__gt=since - WATERMARK_OVERLAP).values("customer_id")
        successes = successes.filter(customer_id__in=changed)
        existing = existing.filter(customer_id__in=changed)
    existing.delete()
    if not kinds:
        return 0
    # The distinct (customer, day) pairs first, narrow; the customer's dimensions are joined to them
    # after (sorting 5.4M success events with their dimensions for DISTINCT took most of 150 s at 1M).
    days = (
        successes.annotate(day=TruncDate("occurred_at"))
        .values_list("customer_id", "day")
        .order_by()
        .distinct()
    )
    dimensions = Customer.objects.annotate(
        owner_dim=Coalesce("owner_id", 0),
        country_dim=Coalesce("country", Value("")),
        segment_dim=Coalesce(Substr(KeyTextTransform("segment", "attributes"), 1, 40), Value("")),
    ).values_list("id", "owner_dim", "country_dim", "segment_dim")
    (days_sql, days_params), (dims_sql, dims_params) = (
        days.query.sql_with_params(),
        dimensions.query.sql_with_params(),
    )
    quote = connection.ops.quote_name
    fields = ["customer", "day", "previous_day", "owner_id", "country", "segment", "holdout"]
    columns = ", ".join(quote(SuccessDay._meta.get_field(name).column) for name in fields)
    scores, score_customer = (quote(CustomerScore._meta.db_table), quote(CustomerScore._meta.pk.column))
    with connection.cursor() as cursor:
        # Every row of a customer is written together, so the day before is the customer's. The tables
        # and columns are the models'; the days and dimensions are the ORM's own SQL.
        cursor.execute(
            f"INSERT INTO {quote(SuccessDay._meta.db_table)} ({columns})"  # noqa: S608
            " SELECT days.customer_id, days.day, COALESCE(LAG(days.day) OVER w, %s),"
            " dims.owner_dim, dims.country_dim, dims.segment_dim, scores.holdout"
            f" FROM ({days_sql}) AS days JOIN ({dims_sql}) AS dims ON dims.id = days.customer_id"
            f" LEFT JOIN {scores} AS scores ON scores.{score_customer} = days.customer_id"
            " WINDOW w AS (PARTITION BY days.customer_id ORDER BY days.day)"
            f"{' ORDER BY days.day' if since is None else ''}",
            [date.min, *days_params, *dims_params],
        )
        return cursor.rowcount


def success_groups_sync(since: datetime | None) -> int:
    """Bring ``SuccessDay.holdout`` in step with the customers' scores: of everyone (``since`` None)
    or of the customers scored after ``since``. Only rows whose group changed are written (a group
    changes when the hold-out policy does, or when a customer is scored for the first time).
    Returns the rows written."""
    from analytics.models import SuccessDay
    from insights.models import CustomerScore

    scores = CustomerScore.objects.all()
    if since is not None:
        scores = scores.filter(scored_at__gt=since - WATERMARK_OVERLAP)
    # EXISTS, never NOT IN: a NOT IN over a million scores is a SubPlan that PostgreSQL hashes only
    # while it fits in work_mem and otherwise rescans for every row (it ran for minutes at 1M).
    written = 0
    for holdout in (False, True):
        group = scores.filter(customer_id=OuterRef("customer_id"), holdout=holdout)
        # exclude() keeps the rows without a group (NULL) too.
        written += SuccessDay.objects.filter(Exists(group)).exclude(holdout=holdout).update(holdout=holdout)
    if since is None:  # scores go only with their customer (erasure), but a full sync checks that too
        score = CustomerScore.objects.filter(customer_id=OuterRef("customer_id"))
        written += SuccessDay.objects.filter(~Exists(score), holdout__isnull=False).update(holdout=None)
    return written
