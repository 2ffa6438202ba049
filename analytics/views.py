"""Dashboard pages, chart CSV, drill-down lists, listening pages and category suggestions."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from analytics import kpis, listening_charts, rollups, services
from analytics.dashboards import dashboards
from analytics.dashboards.charts import (
    ChartData,
    chart_csv,
    figure_json,
    people_names,
)
from analytics.dashboards.filters import Filters, parse_filters
from analytics.forms import TopicLabelForm
from analytics.models import ListenedMessage, SuggestedCategory, Topic
from crm.models import Ticket
from customer360 import access, exports
from customer360.audit.access import Action, record_access
from customer360.models import Customer, Job
from customer360.replica import reads_from_replica
from customer360.text import whole_number

DRILL_PAGE = 100
DRILL_CSV_LIMIT = 100_000


def chart_context(chart: ChartData, filters: Filters, *, drill_base: str = "", csv_url: str = "") -> dict:
    """What ``_chart.html`` needs: the figure JSON, the data table with drill links, the CSV link."""
    rows = []
    for row in chart.rows():
        bucket = quote(row["bucket"], safe="")
        cells = [
            {
                "value": value,
                "label": s.name,
                "url": f"{drill_base}&bucket={bucket}&series={quote(s.key)}"
                if drill_base and s.drill
                else "",
            }
            for s, value in zip(chart.series, row["values"], strict=True)
        ]
        rows.append(
            {
                "label": row["label"],
                "url": f"{drill_base}&bucket={bucket}" if drill_base else "",
                "cells": cells,
            }
        )
    return {
        "chart": chart,
        "dom_id": chart.key.replace(".", "-"),
        "figure": figure_json(chart),
        "rows": rows,
        "drill_url": drill_base,
        "csv_url": csv_url,
    }


@reads_from_replica
def index(request: HttpRequest) -> HttpResponse:
    access.require_manager(request.user)
    return render(request, "analytics/index.html", {"dashboards": dashboards.all()})


@reads_from_replica
def dashboard(request: HttpRequest, key: str) -> HttpResponse:
    access.require_manager(request.user)
    board = dashboards.get(key)
    if board is None:
        raise Http404
    filters, form = parse_filters(request.GET)
    charts = []
    query = filters.querystring()
    for definition in board.charts:
        chart = definition.build(filters)
        drill = (
            reverse("analytics:drill", args=[key, definition.key]) + f"?{query}" if definition.drill else ""
        )
        csv_url = reverse("analytics:chart_csv", args=[key, definition.key]) + f"?{query}"
        charts.append(chart_context(chart, filters, drill_base=drill, csv_url=csv_url))
    return render(
        request,
        "analytics/dashboard.html",
        {"board": board, "boards": dashboards.all(), "charts": charts, "form": form, "filters": filters},
    )


def _chart_def(key: str, chart_key: str):
    board = dashboards.get(key)
    definition = board.chart(chart_key) if board else None
    if definition is None:
        raise Http404
    return board, definition


@reads_from_replica
def chart_csv_view(request: HttpRequest, key: str, chart_key: str) -> HttpResponse:
    access.require_manager(request.user)
    _board, definition = _chart_def(key, chart_key)
    filters, _form = parse_filters(request.GET)
    chart = definition.build(filters)
    response = chart_csv(chart, filters, exports.requested_format(request) or "csv")
    record_access(request, Action.EXPORT, rows=len(chart.rows()), what=f"chart {key}/{chart_key}")
    return response


def _label_maps(model, paths: list[str]) -> dict[str, dict]:
    """Display labels of choice fields among ``paths`` (e.g. "status" -> {"open": "Open"}) and people's
    names for paths that end at a user (e.g. "owner" -> {7: "Rita Berger"}; one query for all)."""
    maps, user_paths = {}, []
    user_model = get_user_model()
    for path in paths:
        current, field = model, None
        try:
            for part in path.split("__"):
                field = current._meta.get_field(part)
                current = field.related_model or current
        except FieldDoesNotExist:
            continue
        if field is not None and field.related_model is user_model:
            user_paths.append(path)
        elif field is not None and getattr(field, "choices", None):
            maps[path] = {k: str(v) for k, v in field.flatchoices}
    if user_paths:
        names = people_names()
        maps.update(dict.fromkeys(user_paths, names))
    return maps


def _drill_rows(spec, page_rows, prefix: str, label_maps: dict) -> list[dict]:
    rows = []
    for values in page_rows:
        person = Customer(
            kind=values[f"{prefix}kind"],
            first_name=values[f"{prefix}first_name"],
            last_name=values[f"{prefix}last_name"],
            company=values[f"{prefix}company"],
            customer_number=values[f"{prefix}customer_number"],
        )
        url = ""
        if spec.url_name:
            try:
                url = reverse(spec.url_name, args=[values["pk"]])
            except NoReverseMatch:
                url = ""
        cells = [
            {"label": label, "value": label_maps.get(path, {}).get(values[path], values[path])}
            for label, path in spec.columns
        ]
        rows.append(
            {
                "customer": person.display_name,
                "customer_id": values[f"{prefix}id"],
                "customer_url": reverse("customer360:customer_detail", args=[values[f"{prefix}id"]]),
                "url": url,
                "cells": cells,
            }
        )
    return rows


def _drill_export(request, fmt, where, spec, values, prefix, label_maps) -> HttpResponse:
    """The drill-down as a file (XLSX or the locale's CSV); a handed-out file is access-logged."""
    key, chart_key, bucket, series = where
    rows = list(
        _drill_rows(spec, values[: DRILL_CSV_LIMIT + 1].iterator(chunk_size=2000), prefix, label_maps)
    )
    header = [_("Customer"), *[str(label) for label, _p in spec.columns]]
    response = exports.export_response(
        ([row["customer"], *[cell["value"] for cell in row["cells"]]] for row in rows),
        header,
        f"{chart_key.replace('.', '-')}-{bucket}-{series or 'all'}",
        fmt,
    )
    if response.status_code != 200:  # refused (too many rows): nothing was handed out
        return response
    record_access(
        request,
        Action.EXPORT,
        customers=[row["customer_id"] for row in rows],
        rows=len(rows),
        what=f"drill-down {key}/{chart_key} {bucket} {series}".strip(),
    )
    return response


@reads_from_replica
def drill(request: HttpRequest, key: str, chart_key: str) -> HttpResponse:
    """The records behind one bar, restricted to customers the user may see; ``?format=csv`` exports."""
    access.require_manager(request.user)
    board, definition = _chart_def(key, chart_key)
    if definition.drill is None:
        raise Http404
    filters, _form = parse_filters(request.GET)
    bucket, series = request.GET.get("bucket", ""), request.GET.get("series", "")
    try:
        spec = definition.drill(filters, bucket, series)
    except (ValueError, StopIteration, KeyError, IndexError, ObjectDoesNotExist):
        raise Http404(_("No such bar.")) from None
    visible = Customer.objects.visible_to(request.user).values("pk")
    prefix = f"{spec.customer_path}__" if spec.customer_path else ""
    queryset = spec.queryset.filter(**{f"{prefix}pk__in" if prefix else "pk__in": visible})
    paths = [path for _label, path in spec.columns]
    customer_fields = [
        f"{prefix}{name}" for name in ("id", "kind", "first_name", "last_name", "company", "customer_number")
    ]
    values = queryset.values("pk", *customer_fields, *paths).order_by("-pk")
    label_maps = _label_maps(spec.queryset.model, paths)
    fmt = exports.requested_format(request)
    if fmt:
        return _drill_export(request, fmt, (key, chart_key, bucket, series), spec, values, prefix, label_maps)
    page = Paginator(values, DRILL_PAGE).get_page(request.GET.get("page"))
    chart = definition.build(filters)
    label = dict(chart.categories).get(bucket, bucket)
    series_name = next((s.name for s in chart.series if s.key == series), "")
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "analytics/drill.html",
        {
            "board": board,
            "spec": spec,
            "chart": chart,
            "bucket_label": label,
            "series_name": series_name,
            "page": page,
            "rows": _drill_rows(spec, page.object_list, prefix, label_maps),
            "columns": [label for label, _p in spec.columns],
            "querystring": query.urlencode(),
            "back_url": reverse("analytics:dashboard", args=[key]) + f"?{filters.querystring()}",
            "filters": filters,
        },
    )


# --- Listening ----------------------------------------------------------------------------------------
@reads_from_replica
def listening(request: HttpRequest) -> HttpResponse:
    access.require_manager(request.user)
    filters, form = parse_filters(request.GET)
    topics = list(Topic.objects.all())
    examples = _examples(topics, filters, Customer.objects.visible_to(request.user).values("pk"))
    for topic in topics:
        topic.examples = examples.get(topic.pk, [])
    trend = listening_charts.topic_trend(topics, filters)
    # Customers by mood, from the roll-up (as of its refresh).
    moods = kpis.rollup_counts("listening.mood", filters)
    mood = {key: moods.get(key, 0) for key, _lo, _hi in rollups.MOOD_BANDS}
    return render(
        request,
        "analytics/listening.html",
        {
            "form": form,
            "filters": filters,
            "topics": topics,
            "rising": [t for t in topics if t.is_rising],
            "trend": chart_context(trend, filters, drill_base=_topic_drill_base())
            if trend.categories
            else None,
            "mood": mood,
            "job": Job.objects.filter(kind="analytics.listening").order_by("-created_at").first(),
            "accuracy": services.suggestion_accuracy(),
            "last_message": ListenedMessage.objects.aggregate(at=Max("occurred_at"))["at"],
        },
    )


EXAMPLES_PER_TOPIC = 2


EXAMPLES_RECENT_DAYS = 30


def _examples(topics: list[Topic], filters: Filters, visible) -> dict[int, list[ListenedMessage]]:
    """The messages that fit each topic best (highest weight) in the period and scope of the filters.

    First from the last 30 days of the period; topics without a message there get a second look
    over the whole period."""
    if not topics:
        return {}
    scope = Q(filters.customer_q(), filters.owner_q("customer__owner"), customer__in=visible)
    recent = max(filters.start_at, filters.end_at - timedelta(days=EXAMPLES_RECENT_DAYS))
    found = _ranked_examples(topics, scope & Q(occurred_at__gte=recent, occurred_at__lt=filters.end_at))
    missing = [t for t in topics if t.pk not in found]
    if missing and recent > filters.start_at:
        found.update(_ranked_examples(missing, scope & filters.in_period("occurred_at")))
    return found


def _ranked_examples(topics: list[Topic], condition: Q) -> dict[int, list[ListenedMessage]]:
    """Per topic, its best-fitting messages under ``condition``: one query per topic (at most
    ``n_topics``) that walks the topic's messages in the order of the (topic, weight) index
    (migration 0006) and stops at the first few that match. A window over every topic at once
    sorted all the period's messages (0.75 s at a million customers)."""
    found: dict[int, list[ListenedMessage]] = {}
    for topic in topics:
        best = (
            ListenedMessage.objects.filter(condition, topic=topic)
            .order_by("-topic_weight", "-pk")
            .only("pk", "topic_id", "text", "url", "occurred_at")[
                : 3 * EXAMPLES_PER_TOPIC
            ]  # room to skip repeated texts
        )
        for message in best:
            chosen = found.setdefault(topic.pk, [])
            if len(chosen) < EXAMPLES_PER_TOPIC and all(m.text != message.text for m in chosen):
                chosen.append(message)
    return found


def topic_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A topic's trend, the messages behind it and the customers who wrote them."""
    access.require_manager(request.user)
    topic = get_object_or_404(Topic, pk=pk)
    filters, _form = parse_filters(request.GET)
    visible = Customer.objects.visible_to(request.user).values("pk")
    messages_qs = (
        ListenedMessage.objects.filter(topic=topic, customer__in=visible)
        .select_related("customer")
        .order_by("-occurred_at", "-id")
    )
    week = _week(request.GET.get("week", ""))
    if week:
        start = timezone.make_aware(datetime.combine(week, time.min))
        messages_qs = messages_qs.filter(occurred_at__gte=start, occurred_at__lt=start + timedelta(days=7))
    page = Paginator(messages_qs, 50).get_page(request.GET.get("page"))
    customers = list(
        ListenedMessage.objects.filter(topic=topic, customer__in=visible)
        .values("customer", "customer__first_name", "customer__last_name", "customer__company", "customer__kind",
                "customer__customer_number")
        .annotate(n=Count("id"), last=Max("occurred_at"))
        .order_by("-n", "-last")[:50]
    )  # fmt: skip
    for row in customers:
        row["name"] = Customer(
            kind=row["customer__kind"], first_name=row["customer__first_name"], last_name=row["customer__last_name"],
            company=row["customer__company"], customer_number=row["customer__customer_number"],
        ).display_name  # fmt: skip
    trend = listening_charts.topic_trend([topic], filters)
    return render(
        request,
        "analytics/topic_detail.html",
        {
            "topic": topic,
            "page": page,
            "customers": customers,
            "trend": chart_context(trend, filters, drill_base=_topic_drill_base())
            if trend.categories
            else None,
            "week": week,
            "label_form": TopicLabelForm(initial={"label": topic.label if topic.label_is_custom else ""})
            if request.user.has_perm("analytics.change_topic")
            else None,
        },
    )


@require_POST
def topic_rename(request: HttpRequest, pk: int) -> HttpResponse:
    """A manager gives a topic a readable name (kept across listening runs)."""
    access.require_manager(request.user)
    access.require(request.user, "analytics.change_topic")
    topic = get_object_or_404(Topic, pk=pk)
    form = TopicLabelForm(request.POST)
    if form.is_valid():
        services.topic_rename(topic=topic, label=form.cleaned_data["label"], user=request.user)
        messages.success(request, _("The topic is now called “%(label)s”.") % {"label": topic.label})
    else:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    return redirect(topic.get_absolute_url())


def _week(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _topic_drill_base() -> str:
    return reverse("analytics:topic_drill") + "?from=trend"


@reads_from_replica
def topic_drill(request: HttpRequest) -> HttpResponse:
    """A point of the topic trend: the topic's messages of that week."""
    access.require_manager(request.user)
    topic = get_object_or_404(Topic, pk=whole_number(request.GET.get("series")) or 0)
    week = _week(request.GET.get("bucket", ""))
    url = topic.get_absolute_url()
    return redirect(f"{url}?week={week.isoformat()}" if week else url)


@require_POST
def listening_run(request: HttpRequest) -> HttpResponse:
    """Start a listening run in the worker (topics, sentiment, categories)."""
    access.require_manager(request.user)
    from analytics.tasks import refresh_listening

    refresh_listening.delay()
    messages.info(request, _("The listening run was started; refresh this page in a minute."))
    return redirect("analytics:listening")


# --- Category suggestions -----------------------------------------------------------------------------
def suggestions(request: HttpRequest) -> HttpResponse:
    """Open tickets with the category the classifier suggests; the agent accepts or corrects it."""
    access.require(request.user, "analytics.view_suggestedcategory")
    visible = Customer.objects.visible_to(request.user).values("pk")
    tickets = list(
        Ticket.objects.open()
        .filter(customer__in=visible)
        .select_related("customer")
        .order_by("-opened_at")[:100]
    )
    found = SuggestedCategory.objects.in_bulk([t.pk for t in tickets])
    rows = [{"ticket": t, "suggestion": found.get(t.pk)} for t in tickets]
    return render(
        request,
        "analytics/suggestions.html",
        {"rows": rows, "categories": Ticket.Category.choices, "accuracy": services.suggestion_accuracy()},
    )


@require_POST
def suggestion_decide(request: HttpRequest, ticket_pk: int) -> HttpResponse:
    access.require(request.user, "analytics.correct_suggestedcategory")
    if not request.user.has_perm("crm.change_ticket"):
        raise PermissionDenied(_("Changing a ticket's category needs the permission to change tickets."))
    visible = Customer.objects.visible_to(request.user)
    ticket = get_object_or_404(Ticket.objects.filter(customer__in=visible), pk=ticket_pk)
    try:
        services.suggestion_decide(
            ticket=ticket, category=request.POST.get("category", ""), user=request.user
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, _("Category saved for ticket #%(pk)s.") % {"pk": ticket.pk})
    return redirect("analytics:suggestions")
