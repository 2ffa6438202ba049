"""Service: ticket volume by category and channel, SLA compliance, first-response and resolution
time distributions, CSAT trend, backlog by age. Owner = the ticket's assignee."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics import kpis
from analytics.dashboards.charts import ChartData, ChartDef, Dashboard, Drill, Series, dashboards
from analytics.dashboards.filters import Filters, add_months
from crm.models import Priority, Satisfaction, Ticket
from customer360.models import Channel

TICKET_COLUMNS = [
    (gettext_lazy("Subject"), "subject"),
    (gettext_lazy("Category"), "category"),
    (gettext_lazy("Channel"), "channel"),
    (gettext_lazy("Priority"), "priority"),
    (gettext_lazy("Status"), "status"),
    (gettext_lazy("Assignee"), "assignee"),
    (gettext_lazy("Opened"), "opened_at"),
]
# (key, label, lower bound, upper bound) of the time distributions.
DURATIONS = [
    ("lt1h", gettext_lazy("< 1 h"), timedelta(0), timedelta(hours=1)),
    ("1-4h", gettext_lazy("1-4 h"), timedelta(hours=1), timedelta(hours=4)),
    ("4-8h", gettext_lazy("4-8 h"), timedelta(hours=4), timedelta(hours=8)),
    ("8-24h", gettext_lazy("8-24 h"), timedelta(hours=8), timedelta(days=1)),
    ("1-3d", gettext_lazy("1-3 days"), timedelta(days=1), timedelta(days=3)),
    ("3-7d", gettext_lazy("3-7 days"), timedelta(days=3), timedelta(days=7)),
    ("gt7d", gettext_lazy("> 7 days"), timedelta(days=7), None),
]
AGES = [
    ("0-1d", gettext_lazy("< 1 day"), 0, 1),
    ("1-3d", gettext_lazy("1-3 days"), 1, 3),
    ("3-7d", gettext_lazy("3-7 days"), 3, 7),
    ("7-14d", gettext_lazy("7-14 days"), 7, 14),
    ("14-30d", gettext_lazy("14-30 days"), 14, 30),
    ("gt30d", gettext_lazy("> 30 days"), 30, None),
]
TIMES = {"first_response": "first_response_at", "resolution": "solved_at"}


def _tickets(f: Filters):
    return Ticket.objects.filter(f.scope(owner_field="assignee"))


def _opened(f: Filters):
    return _tickets(f).filter(f.in_period("opened_at"))


def volume(f: Filters) -> ChartData:
    """Tickets opened in the period by category (bars) and channel (stacked)."""
    counts = defaultdict(int)
    for row in _opened(f).values("category", "channel").annotate(n=Count("id")).order_by():
        counts[row["category"], row["channel"]] = row["n"]
    channels = [c for c in Channel.values if any(counts[cat, c] for cat in Ticket.Category.values)]
    labels = dict(Channel.choices)
    return ChartData(
        key="service.volume",
        title=_("Ticket volume by category and channel"),
        categories=[(value, str(label)) for value, label in Ticket.Category.choices],
        series=[
            Series(str(labels[c]), [counts[cat, c] for cat in Ticket.Category.values], key=c)
            for c in channels
        ],
        kind="stack",
        x_title=_("Category"),
        y_title=_("Tickets opened"),
    )


def drill_volume(f: Filters, bucket: str, series: str) -> Drill:
    tickets = _opened(f).filter(category=bucket)
    if series:
        tickets = tickets.filter(channel=series)
    return Drill(_("Tickets opened in the period"), tickets, TICKET_COLUMNS, url_name="crm:ticket_detail")


def _breached(now) -> Q:
    return kpis.sla_breached(now)


def sla(f: Filters) -> ChartData:
    """Tickets with an SLA opened in the period, per priority: met vs breached, and compliance %."""
    breached = _breached(timezone.now())
    rows = {
        r["priority"]: r
        for r in _opened(f)
        .filter(resolution_due__isnull=False)
        .values("priority")
        .annotate(total=Count("id"), breached=Count("id", filter=breached))
        .order_by()
    }
    met, late, rate = [], [], []
    for value in Priority.values:
        row = rows.get(value, {"total": 0, "breached": 0})
        met.append(row["total"] - row["breached"])
        late.append(row["breached"])
        rate.append(kpis.sla_attainment(row["total"], row["breached"]))
    return ChartData(
        key="service.sla",
        title=_("SLA compliance by priority"),
        categories=[(v, str(label)) for v, label in Priority.choices],
        series=[
            Series(_("Met"), met, key="met"),
            Series(_("Breached"), late, key="breached"),
            Series(_("Compliance %"), rate, key="rate", axis="y2", drill=False),
        ],
        kind="stack",
        x_title=_("Priority"),
        y_title=_("Tickets"),
        y2_title=_("%"),
    )


def drill_sla(f: Filters, bucket: str, series: str) -> Drill:
    tickets = _opened(f).filter(resolution_due__isnull=False, priority=bucket)
    breached = _breached(timezone.now())
    if series == "breached":
        tickets = tickets.filter(breached)
    elif series == "met":
        tickets = tickets.exclude(breached)
    return Drill(_("Tickets with an SLA"), tickets, TICKET_COLUMNS, url_name="crm:ticket_detail")


def _duration_q(lower, upper, field: str = "duration") -> Q:
    condition = Q(**{f"{field}__gte": lower})
    if upper is not None:
        condition &= Q(**{f"{field}__lt": upper})
    return condition


def _with_duration(queryset, measure: str):
    end = TIMES[measure]
    duration = ExpressionWrapper(F(end) - F("opened_at"), output_field=DurationField())
    return queryset.filter(**{f"{end}__isnull": False}).annotate(duration=duration)


def times(f: Filters) -> ChartData:
    """How long first responses and resolutions took, for tickets opened in the period."""
    measures = (("first_response", _("First response")), ("resolution", _("Resolution")))
    # Both measures in one pass over the period's tickets (was one query per measure).
    durations = {
        f"{measure}_duration": ExpressionWrapper(
            F(TIMES[measure]) - F("opened_at"), output_field=DurationField()
        )
        for measure, _name in measures
    }
    counts = (
        _opened(f)
        .annotate(**durations)
        .aggregate(
            **{
                f"{measure}__{key}": Count(
                    "id",
                    filter=Q(**{f"{TIMES[measure]}__isnull": False})
                    & _duration_q(lo, hi, field=f"{measure}_duration"),
                )
                for measure, _name in measures
                for key, _label, lo, hi in DURATIONS
            }
        )
    )
    series = [
        Series(name, [counts[f"{measure}__{key}"] for key, *_rest in DURATIONS], key=measure)
        for measure, name in measures
    ]
    return ChartData(
        key="service.times",
        title=_("First-response and resolution time"),
        categories=[(key, str(label)) for key, label, *_rest in DURATIONS],
        series=series,
        x_title=_("Time taken (calendar time)"),
        y_title=_("Tickets"),
    )


def drill_times(f: Filters, bucket: str, series: str) -> Drill:
    measure = series if series in TIMES else "resolution"
    _key, _label, lo, hi = next(d for d in DURATIONS if d[0] == bucket)
    tickets = _with_duration(_opened(f), measure).filter(_duration_q(lo, hi))
    return Drill(_("Tickets in this time range"), tickets, TICKET_COLUMNS, url_name="crm:ticket_detail")


def csat(f: Filters) -> ChartData:
    """Average satisfaction score (1-5) and number of ratings per month of the period."""
    rows = {
        (r["month"].date() if hasattr(r["month"], "hour") else r["month"]): r
        # From the ratings themselves: tickets are joined only when a filter needs them.
        for r in Satisfaction.objects.filter(
            f.scope(customer_prefix="ticket__customer__", owner_field="ticket__assignee"),
            f.in_period("created_at"),
        )
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(score=kpis.CSAT_AVERAGE, n=Count("id"))
        .order_by()
    }
    months = f.months
    return ChartData(
        key="service.csat",
        title=_("Customer satisfaction (CSAT) trend"),
        categories=[(m.strftime("%Y-%m"), date_format(m, "YEAR_MONTH_FORMAT")) for m in months],
        series=[
            Series(_("Ratings"), [rows.get(m, {}).get("n", 0) for m in months], key="n"),
            Series(
                _("Average score (1-5)"),
                [kpis.csat(rows[m]["score"]) if m in rows else None for m in months],
                key="score",
                axis="y2",
                drill=False,
            ),
        ],
        x_title=_("Month"),
        y_title=_("Ratings"),
        y2_title=_("Score"),
    )


def drill_csat(f: Filters, bucket: str, series: str) -> Drill:
    year, month = (int(p) for p in bucket.split("-"))
    first = f.start.replace(year=year, month=month, day=1)
    month_filters = f.with_period(max(first, f.start), min(add_months(first, 1) - timedelta(days=1), f.end))
    tickets = _tickets(f).filter(month_filters.in_period("satisfaction__created_at"))
    columns = TICKET_COLUMNS[:2] + [(gettext_lazy("CSAT"), "satisfaction__score")]
    return Drill(_("Rated tickets"), tickets, columns, url_name="crm:ticket_detail")


def _age_q(now, low: int, high: int | None) -> Q:
    condition = Q(opened_at__lte=now - timedelta(days=low))
    if high is not None:
        condition &= Q(opened_at__gt=now - timedelta(days=high))
    return condition


def backlog(f: Filters) -> ChartData:
    """Open tickets now (a snapshot), by age and priority."""
    now = timezone.now()
    counts = (
        _tickets(f)
        .open()
        .aggregate(
            **{
                f"{key}__{p}": Count("id", filter=_age_q(now, lo, hi) & Q(priority=p))
                for key, _label, lo, hi in AGES
                for p in Priority.values
            }
        )
    )
    return ChartData(
        key="service.backlog",
        title=_("Backlog by age (open tickets now)"),
        categories=[(key, str(label)) for key, label, *_rest in AGES],
        series=[
            Series(str(label), [counts[f"{key}__{p}"] for key, *_rest in AGES], key=p)
            for p, label in Priority.choices
        ],
        kind="stack",
        x_title=_("Age"),
        y_title=_("Open tickets"),
    )


def drill_backlog(f: Filters, bucket: str, series: str) -> Drill:
    _key, _label, lo, hi = next(a for a in AGES if a[0] == bucket)
    tickets = _tickets(f).open().filter(_age_q(timezone.now(), lo, hi))
    if series:
        tickets = tickets.filter(priority=series)
    return Drill(_("Open tickets of this age"), tickets, TICKET_COLUMNS, url_name="crm:ticket_detail")


dashboards.register(
    Dashboard(
        key="service",
        title=gettext_lazy("Service"),
        order=20,
        description=gettext_lazy("Ticket volume, SLA compliance, response times, CSAT and backlog."),
        charts=(
            ChartDef("service.volume", volume, drill_volume),
            ChartDef("service.sla", sla, drill_sla),
            ChartDef("service.times", times, drill_times),
            ChartDef("service.csat", csat, drill_csat),
            ChartDef("service.backlog", backlog, drill_backlog),
        ),
    )
)
