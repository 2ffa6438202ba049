"""Service: ticket volume by category and channel, SLA compliance, first-response and resolution
time distributions, CSAT trend, backlog by age. Owner = the ticket's assignee."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics import kpis
from analytics.dashboards.charts import ChartData, ChartDef, Dashboard, Drill, Series, dashboards
from analytics.dashboards.filters import Filters
from analytics.models import DailyRollup
from analytics.periods import add_months
from analytics.rollups import TICKET_TIME_BANDS, TICKET_TIMES, range_q
from crm.models import Priority, Ticket
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
DURATION_LABELS = {
    "lt1h": gettext_lazy("< 1 h"),
    "1-4h": gettext_lazy("1-4 h"),
    "4-8h": gettext_lazy("4-8 h"),
    "8-24h": gettext_lazy("8-24 h"),
    "1-3d": gettext_lazy("1-3 days"),
    "3-7d": gettext_lazy("3-7 days"),
    "gt7d": gettext_lazy("> 7 days"),
}
# (key, label, lower bound, upper bound) of the time distributions, as the roll-up bands them.
DURATIONS = [(key, DURATION_LABELS[key], lo, hi) for key, lo, hi in TICKET_TIME_BANDS]
AGES = [
    ("0-1d", gettext_lazy("< 1 day"), 0, 1),
    ("1-3d", gettext_lazy("1-3 days"), 1, 3),
    ("3-7d", gettext_lazy("3-7 days"), 3, 7),
    ("7-14d", gettext_lazy("7-14 days"), 7, 14),
    ("14-30d", gettext_lazy("14-30 days"), 14, 30),
    ("gt30d", gettext_lazy("> 30 days"), 30, None),
]
TIMES = TICKET_TIMES


def _tickets(f: Filters):
    return Ticket.objects.filter(f.scope(owner_field="assignee"))


def _opened(f: Filters):
    return _tickets(f).filter(f.in_period("opened_at"))


def _counts(metric: str, f: Filters) -> dict[str, int]:
    """A service roll-up's counts per key over the filters' period and scope (as of its refresh)."""
    return kpis.rollup_counts(metric, f, since=f.start, until=f.end)


def volume(f: Filters) -> ChartData:
    """Tickets opened in the period by category (bars) and channel (stacked)."""
    counts = defaultdict(int)
    for key, n in _counts("service.volume", f).items():
        category, _sep, channel = key.partition(":")
        counts[category, channel] = n
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
    counts = _counts("service.sla", f)
    met, late, rate = [], [], []
    for value in Priority.values:
        on_time, breached = counts.get(f"{value}:met", 0), counts.get(f"{value}:breached", 0)
        met.append(on_time)
        late.append(breached)
        rate.append(kpis.sla_attainment(on_time + breached, breached))
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


def _with_duration(queryset, measure: str):
    end = TIMES[measure]
    duration = ExpressionWrapper(F(end) - F("opened_at"), output_field=DurationField())
    return queryset.filter(**{f"{end}__isnull": False}).annotate(duration=duration)


def times(f: Filters) -> ChartData:
    """How long first responses and resolutions took, for tickets opened in the period."""
    measures = (("first_response", _("First response")), ("resolution", _("Resolution")))
    counts = _counts("service.times", f)
    series = [
        Series(name, [counts.get(f"{measure}:{key}", 0) for key, *_rest in DURATIONS], key=measure)
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
    tickets = _with_duration(_opened(f), measure).filter(range_q("duration", lo, hi))
    return Drill(_("Tickets in this time range"), tickets, TICKET_COLUMNS, url_name="crm:ticket_detail")


def csat(f: Filters) -> ChartData:
    """Average satisfaction score (1-5) and number of ratings per month of the period."""
    rows: dict = defaultdict(lambda: {"n": 0, "points": 0})
    ratings = DailyRollup.objects.filter(
        f.rollup_q(), metric="service.csat", day__gte=f.start, day__lte=f.end
    )
    for r in (
        ratings.annotate(month=TruncMonth("day")).values("month", "key").annotate(n=Sum("count")).order_by()
    ):
        month = r["month"].date() if hasattr(r["month"], "hour") else r["month"]
        rows[month]["n"] += r["n"]
        rows[month]["points"] += int(r["key"]) * r["n"]
    for row in rows.values():
        row["score"] = row["points"] / row["n"] if row["n"] else None
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
