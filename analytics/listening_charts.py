"""Charts of the listening pages: the weekly share of topics (rising ones stand out)."""

from __future__ import annotations

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from analytics.dashboards.charts import ChartData, Series
from analytics.dashboards.filters import Filters
from analytics.models import Topic, TopicTrend

MAX_LINES = 6
WEEKS = 26


def topic_trend(topics: list[Topic], filters: Filters | None = None) -> ChartData:
    """Share of messages per week for the given topics (at most six, most active now first); the
    weeks starting in the filters' period, else the last 26."""
    chosen = sorted(topics, key=lambda t: (-t.is_rising, -t.count_current, t.number))[:MAX_LINES]
    trend = TopicTrend.objects.filter(topic__in=chosen)
    if filters is not None:
        trend = trend.filter(filters.in_period_dates("week"))
    rows = list(trend.values_list("topic_id", "week", "share"))
    weeks = sorted({week for _t, week, _s in rows})
    weeks = weeks if filters is not None else weeks[-WEEKS:]
    share = {(t, w): s for t, w, s in rows}
    return ChartData(
        key="listening.trend",
        title=_("Topics over time (share of messages per week)"),
        categories=[(w.isoformat(), date_format(w, "SHORT_DATE_FORMAT")) for w in weeks],
        series=[
            Series(
                f"{'▲ ' if t.is_rising else ''}{t.label}",
                [round(100 * share.get((t.pk, w), 0.0), 1) for w in weeks],
                key=str(t.pk),
            )
            for t in chosen
        ],
        kind="line",
        x_title=_("Week"),
        y_title=_("% of messages"),
    )
