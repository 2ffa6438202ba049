"""The internal listening page (the feed's analytics) for managers and admins."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from analytics import feed
from collab import departments
from customer360 import roles
from customer360.access import require_manager
from customer360.replica import reads_from_replica


@reads_from_replica
def feed_analytics_page(request: HttpRequest) -> HttpResponse:
    """Internal listening for managers: the feed analysed like customer communication."""
    require_manager(request.user)
    try:
        days = max(7, min(int(request.GET.get("days", "90")), 730))
    except (ValueError, OverflowError):
        days = 90
    data = feed.compute(days=days)
    keys = departments.KEYS
    matrix = [(departments.LABELS[src], [data.asks.get(src, {}).get(dst, 0) for dst in keys]) for src in keys]
    answer_matrix = [
        (departments.LABELS[src], [data.answers.get(src, {}).get(dst, 0) for dst in keys]) for src in keys
    ]
    return render(
        request,
        "analytics/feed.html",
        {
            "data": data,
            "days": days,
            "labels": [departments.LABELS[k] for k in keys],
            "ask_matrix": matrix,
            "answer_matrix": answer_matrix,
            "participation": [
                (departments.LABELS.get(k, k), v) for k, v in data.participation_by_department.items()
            ],
            "roles": [(roles.label(name), v) for name, v in data.participation_by_role.items()],
            "times": [(departments.LABELS.get(k, k), v) for k, v in data.times_by_department.items()],
            "network_figure": feed.network_figure(data.asks),
            "participation_figure": feed.participation_figure(data.participation_by_department),
        },
    )
