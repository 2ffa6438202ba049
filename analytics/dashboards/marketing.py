"""Marketing: campaign funnel, consent opt-ins and withdrawals over time, segment sizes.

Touch and consent counts come from the daily roll-ups (never from the touch table or the timeline
during a request); the drill-down lists the touches / consent changes behind a bar.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db.models import Max, Sum
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.dashboards.charts import ChartData, ChartDef, Dashboard, Drill, Series, dashboards
from analytics.dashboards.filters import Filters, customers_q
from analytics.models import DailyRollup
from analytics.periods import add_months
from customer360.models import Customer
from marketing.models import Campaign, ConsentChange, Segment, Touch

FUNNEL = [
    ("sent", gettext_lazy("Sent")),
    ("opened", gettext_lazy("Opened")),
    ("clicked", gettext_lazy("Clicked")),
    ("converted", gettext_lazy("Converted")),
]
MAX_CAMPAIGNS = 10
TOUCH_COLUMNS = [
    (gettext_lazy("Campaign"), "campaign__name"),
    (gettext_lazy("Status"), "status"),
    (gettext_lazy("When"), "occurred_at"),
]
CONSENT_COLUMNS = [
    (gettext_lazy("Channel"), "consent__channel"),
    (gettext_lazy("Purpose"), "consent__purpose"),
    (gettext_lazy("New status"), "new_status"),
    (gettext_lazy("When"), "changed_at"),
]


def _rollups(f: Filters, metric: str):
    return DailyRollup.objects.filter(f.rollup_q(), metric=metric, day__gte=f.start, day__lte=f.end)


def funnel(f: Filters) -> ChartData:
    """Touches per status of the campaigns with the most sends in the period."""
    counts = defaultdict(int)
    for key, n in _rollups(f, "marketing.touch").values_list("key").annotate(n=Sum("count")).order_by():
        campaign_id, _sep, status = key.partition(":")
        counts[int(campaign_id), status] += n
    campaign_ids = sorted({c for c, _s in counts}, key=lambda c: (-counts[c, "sent"], c))[:MAX_CAMPAIGNS]
    names = dict(Campaign.objects.filter(pk__in=campaign_ids).values_list("pk", "name"))
    return ChartData(
        key="marketing.funnel",
        title=_("Campaign funnel"),
        categories=[(str(c), names.get(c, f"#{c}")) for c in campaign_ids],
        series=[
            Series(str(label), [counts[c, status] for c in campaign_ids], key=status)
            for status, label in FUNNEL
        ],
        x_title=_("Campaign"),
        y_title=_("Touches in the period"),
    )


def _touches(f: Filters):
    return Touch.objects.filter(f.scope(), f.in_period("occurred_at"))


def drill_funnel(f: Filters, bucket: str, series: str) -> Drill:
    touches = _touches(f).filter(campaign_id=int(bucket), status=series or "sent")
    return Drill(_("Campaign touches"), touches, TOUCH_COLUMNS)


def consents(f: Filters) -> ChartData:
    """Consent opt-ins (granted) and withdrawals per month."""
    counts = defaultdict(int)
    rows = _rollups(f, "marketing.consent").filter(key__in=["granted", "withdrawn"])
    for day, key, n in rows.values_list("day", "key").annotate(n=Sum("count")).order_by():
        counts[day.replace(day=1), key] += n
    months = f.months
    return ChartData(
        key="marketing.consents",
        title=_("Consent opt-ins and withdrawals"),
        categories=[(m.strftime("%Y-%m"), date_format(m, "YEAR_MONTH_FORMAT")) for m in months],
        series=[
            Series(_("Opt-ins"), [counts[m, "granted"] for m in months], key="granted"),
            Series(_("Withdrawals"), [counts[m, "withdrawn"] for m in months], key="withdrawn"),
        ],
        kind="line",
        x_title=_("Month"),
        y_title=_("Consent changes"),
    )


def drill_consents(f: Filters, bucket: str, series: str) -> Drill:
    year, month = (int(p) for p in bucket.split("-"))
    first = f.start.replace(year=year, month=month, day=1)
    month_filters = f.with_period(max(first, f.start), min(add_months(first, 1) - timedelta(days=1), f.end))
    changes = ConsentChange.objects.filter(
        f.scope(customer_prefix="consent__customer__"),
        month_filters.in_period("changed_at"),
        new_status=series or "granted",
    )
    return Drill(_("Consent changes"), changes, CONSENT_COLUMNS, customer_path="consent__customer")


def segment_sizes(f: Filters) -> ChartData:
    """Members of each marketing segment at the last roll-up (today's, normally)."""
    rows = DailyRollup.objects.filter(f.rollup_q(), metric="marketing.segment_size")
    latest = rows.aggregate(day=Max("day"))["day"]
    sizes = (
        dict(rows.filter(day=latest).values_list("key").annotate(n=Sum("count")).order_by()) if latest else {}
    )
    segments = list(Segment.objects.order_by("name", "id").values_list("pk", "name")[:50])
    return ChartData(
        key="marketing.segments",
        title=_("Segment sizes"),
        categories=[(str(pk), name) for pk, name in segments],
        series=[Series(_("Customers"), [sizes.get(str(pk), 0) for pk, _n in segments], key="n")],
        x_title=_("Segment"),
        y_title=_("Customers"),
        horizontal=True,
        note=_("As of %(day)s") % {"day": date_format(latest, "SHORT_DATE_FORMAT")} if latest else "",
    )


def drill_segment(f: Filters, bucket: str, series: str) -> Drill:
    segment = Segment.objects.get(pk=int(bucket))
    members = segment.members(base=Customer.objects.filter(customers_q(f)))
    return Drill(
        _("Members of %(segment)s") % {"segment": segment.name},
        members,
        [(gettext_lazy("Country"), "country"), (gettext_lazy("Lifecycle"), "lifecycle")],
        customer_path="",
    )


dashboards.register(
    Dashboard(
        key="marketing",
        title=gettext_lazy("Marketing"),
        order=30,
        description=gettext_lazy("Campaign funnels, consent trend and segment sizes."),
        charts=(
            ChartDef("marketing.funnel", funnel, drill_funnel),
            ChartDef("marketing.consents", consents, drill_consents),
            ChartDef("marketing.segments", segment_sizes, drill_segment),
        ),
    )
)
