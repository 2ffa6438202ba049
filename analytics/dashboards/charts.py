"""What every chart shares: its data (categories x series), the plotly figure, the data table, the
CSV export and the drill-down to the records behind a bar.

A dashboard module registers ``ChartDef``s: ``build(filters) -> ChartData`` (a few aggregate
queries) and ``drill(filters, bucket, series) -> Drill`` (the queryset behind one bar).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import plotly.io as pio
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.html import mark_safe
from django.utils.translation import gettext as _

from analytics.dashboards.filters import Filters
from customer360 import exports
from customer360.formatting import plotly_locale

# Okabe-Ito: distinguishable with the common forms of colour blindness.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Series:
    """One row of numbers over the chart's categories. ``axis="y2"`` draws it as a line on the
    right-hand axis (e.g. a rate beside amounts); ``key`` is passed to the drill-down."""

    name: str
    values: list[float]
    key: str = ""
    axis: str = "y"
    drill: bool = True


@dataclass
class ChartData:
    key: str
    title: str
    categories: list[tuple[str, str]]  # (bucket key for the drill-down, label)
    series: list[Series]
    x_title: str = ""
    y_title: str = ""
    y2_title: str = ""
    kind: str = "bar"  # bar (grouped), stack, line
    note: str = ""
    horizontal: bool = False
    extra: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        return [
            {"bucket": bucket, "label": label, "values": [s.values[i] for s in self.series]}
            for i, (bucket, label) in enumerate(self.categories)
        ]

    def value(self, bucket: str, series_key: str) -> float:
        """The number shown for ``bucket`` in the series ``series_key`` (tests compare these)."""
        index = [b for b, _ in self.categories].index(bucket)
        return next(s for s in self.series if s.key == series_key).values[index]

    @property
    def is_empty(self) -> bool:
        return not self.categories or not any(v for s in self.series for v in s.values)


@dataclass
class Drill:
    """The records behind a bar: ``queryset`` of a model with a ``customer`` (or of Customer itself,
    ``customer_path=""``), the columns to show, and how to link a row to its page."""

    title: str
    queryset: QuerySet
    columns: list[tuple[str, str]]
    customer_path: str = "customer"
    url_name: str = ""


@dataclass(frozen=True)
class ChartDef:
    key: str
    build: Callable[[Filters], ChartData]
    drill: Callable[[Filters, str, str], Drill] | None = None


@dataclass(frozen=True)
class Dashboard:
    key: str
    title: str
    charts: tuple[ChartDef, ...]
    order: int = 100
    description: str = ""

    def chart(self, key: str) -> ChartDef | None:
        return next((c for c in self.charts if c.key == key), None)


class _Dashboards:
    def __init__(self) -> None:
        self.items: dict[str, Dashboard] = {}

    def register(self, dashboard: Dashboard) -> Dashboard:
        self.items[dashboard.key] = dashboard
        return dashboard

    def all(self) -> list[Dashboard]:
        return sorted(self.items.values(), key=lambda d: (d.order, d.key))

    def get(self, key: str) -> Dashboard | None:
        return self.items.get(key)


dashboards = _Dashboards()


def people_names(ids=None) -> dict[int, str]:
    """Users' display names (first and last name, the user name only when there is none), by id;
    all staff when ``ids`` is None (a few hundred rows at most)."""
    users = get_user_model().objects.all()
    if ids is not None:
        users = users.filter(pk__in=[i for i in ids if i])
    return {
        pk: f"{first} {last}".strip() or username
        for pk, username, first, last in users.values_list("id", "username", "first_name", "last_name")
    }


def number(value) -> float:
    """Numbers for plotly and tables: Decimals and None become floats."""
    if value is None:
        return 0.0
    if isinstance(value, Decimal):
        return float(value)
    return value


# --- plotly ------------------------------------------------------------------------------------------
def _is_count(values: list) -> bool:
    return bool(values) and all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def integer_axis(series: list[Series], stacked: bool) -> dict:
    """Axis settings for counts: whole-number ticks (1, 2, 5, 10, 20, 50, ...) and no decimals, so a
    count axis never reads 14.99. Empty dict when a series on the axis is not a count."""
    if not series or not all(_is_count(s.values) for s in series):
        return {}
    if stacked:
        top = max((sum(column) for column in zip(*(s.values for s in series), strict=True)), default=0)
    else:
        top = max((max(s.values) for s in series), default=0)
    step = 1
    while top / step > 8:
        for factor in (2, 2.5, 2):  # 1 -> 2 -> 5 -> 10 -> 20 -> 50 ...
            step = int(step * factor)
            if top / step <= 8:
                break
    return {"tickformat": ",d", "tick0": 0, "dtick": step, "rangemode": "tozero"}


@functools.cache
def _template() -> dict:
    """The "plotly_white" template as plain JSON (resolved once: building validated graph objects per
    request costs ~100 ms a chart, the plain figure dict a fraction of a millisecond)."""
    return pio.templates["plotly_white"].to_plotly_json()


#: Below everything, measured from the figure's edge: at a fraction of the plot's height the legend
#: overlapped the x axis's title where slanted labels took room (a phone's width).
LEGEND = {"orientation": "h", "x": 0, "xanchor": "left", "yref": "container", "y": 0, "yanchor": "bottom"}


def figure(chart: ChartData) -> dict:
    """The plotly figure (``{"data": [...], "layout": {...}}``) of a chart, built in Python.

    ``go.Figure(figure(chart))`` gives the validated graph object (tests do that).
    """
    labels = [label for _, label in chart.categories]
    data = []
    has_y2 = False
    for i, series in enumerate(chart.series):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        custom = [[bucket, series.key if series.drill else ""] for bucket, _ in chart.categories]
        values = [None if v is None else number(v) for v in series.values]  # a gap, not a zero
        if chart.kind == "line" or series.axis == "y2":
            has_y2 = has_y2 or series.axis == "y2"
            data.append(
                {
                    "type": "scatter",
                    "x": labels,
                    "y": values,
                    "name": series.name,
                    "mode": "lines+markers",
                    "line": {"color": colour, "width": 2, "dash": "solid" if i % 2 == 0 else "dot"},
                    "marker": {"color": colour, "symbol": MARKERS[i % len(MARKERS)], "size": 8},
                    "customdata": custom,
                    "yaxis": "y2" if series.axis == "y2" else "y",
                }
            )
        else:
            bar = {"type": "bar", "name": series.name, "marker": {"color": colour}, "customdata": custom}
            if chart.horizontal:
                bar.update(x=values, y=labels, orientation="h")
            else:
                bar.update(x=labels, y=values)
            data.append(bar)
    layout = {
        "template": _template(),
        "title": {"text": chart.title, "x": 0, "xanchor": "left", "font": {"size": 16}},
        "barmode": "stack" if chart.kind == "stack" else "group",
        "margin": {"l": 56, "r": 56 if has_y2 else 16, "t": 48, "b": 56},
        "legend": LEGEND,
        "height": 360,
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "xaxis": {"title": {"text": chart.x_title}, "automargin": True},
        "yaxis": {"title": {"text": chart.y_title}, "automargin": True, "rangemode": "tozero"},
        "hovermode": "closest",
    } | {"separators": plotly_locale()["separators"]}  # 1,234.5 / 1.234,5 like the rest of the page
    bars = [s for s in chart.series if s.axis != "y2"]
    layout["yaxis"].update(integer_axis(bars, stacked=chart.kind == "stack"))
    if chart.horizontal:
        layout["xaxis"], layout["yaxis"] = layout["yaxis"], {**layout["xaxis"], "autorange": "reversed"}
    if has_y2:
        layout["yaxis2"] = {
            "title": {"text": chart.y2_title},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            **integer_axis([s for s in chart.series if s.axis == "y2"], stacked=False),
        }
    return {"data": data, "layout": layout}


def plot_config(chart: ChartData) -> dict:
    # The modebar's camera button is the PNG export (rendered in the browser, no server-side kaleido).
    return {
        "displaylogo": False,
        "responsive": True,
        "modeBarButtonsToRemove": ["select2d", "lasso2d"],
        "toImageButtonOptions": {"format": "png", "filename": chart.key.replace(".", "-"), "scale": 2},
    }


def figure_json(chart: ChartData) -> str:
    """The figure and its config as JSON safe to put inside a ``<script type="application/json">``."""
    payload = {"figure": figure(chart), "config": plot_config(chart)}
    text = json.dumps(payload, separators=(",", ":"), cls=DjangoJSONEncoder)
    return mark_safe(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S308


# --- CSV / XLSX --------------------------------------------------------------------------------------
# One export path for the whole app: the core's exports module (locale separator, BOM, formula guard).
safe_cell = exports.safe_text


def chart_csv(chart: ChartData, filters: Filters, fmt: str = "csv") -> HttpResponse:
    header = [chart.x_title or _("Category")] + [s.name for s in chart.series]
    # No figure (e.g. DSO without sales) stays an empty cell, not a zero.
    rows = (
        [row["label"], *[None if v is None else number(v) for v in row["values"]]] for row in chart.rows()
    )
    filename = f"{chart.key.replace('.', '-')}_{filters.start:%Y%m%d}-{filters.end:%Y%m%d}"
    return exports.export_response(rows, header, filename, fmt)
