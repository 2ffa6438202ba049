"""The next-best-action performance page for managers: acceptance and conversion by action, AUC per
model version, and the lift over the hold-out (the same figure as the NBA dashboard, from kpis).

It lives in analytics, which may read insights; insights itself imports no analytics module."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from analytics import kpis
from analytics.dashboards.filters import parse_filters
from customer360 import roles, scores
from customer360.models import Job
from customer360.replica import reads_from_replica
from insights.models import Action, ModelVersion, Recommendation


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


RELIABILITY_SIZE = 160  # px of the square reliability diagram


def reliability(version: ModelVersion) -> dict:
    """The hold-out reliability curve of a model as SVG points (predicted -> observed, per decile)
    in a square of ``RELIABILITY_SIZE``: on the diagonal, "30 %" means 3 in 10."""
    size = RELIABILITY_SIZE
    bins = version.metrics.get("calibration") or []
    points = " ".join(f"{p * size:.1f},{(1 - o) * size:.1f}" for p, o, _n in bins)
    return {
        "version": version,
        "name": version.action.name(get_language() or "en")
        if version.action_id
        else scores.label_of(version.outcome),
        "points": points,
        "bins": bins,
        "size": size,
    }


@reads_from_replica
def nba_performance(request: HttpRequest) -> HttpResponse:
    """Acceptance and conversion by action, AUC per model version, lift over the hold-out."""
    if not roles.is_manager_or_admin(request.user):
        raise PermissionDenied(_("Only managers and admins see the NBA performance."))
    S = Recommendation.Status
    by_action = Action.objects.annotate(
        shown=Count("recommendations"),
        open=Count("recommendations", filter=Q(recommendations__status=S.OPEN)),
        accepted=Count("recommendations", filter=Q(recommendations__status__in=[S.ACCEPTED, S.COMPLETED])),
        dismissed=Count("recommendations", filter=Q(recommendations__status=S.DISMISSED)),
        converted=Count("recommendations", filter=Q(recommendations__outcome="success")),
    ).order_by("order", "key")
    rows = []
    for a in by_action:
        decided = a.accepted + a.dismissed
        rows.append(
            {
                "action": a,
                "acceptance": _rate(a.accepted, decided),
                "conversion": _rate(a.converted, a.accepted),
            }
        )
    versions = ModelVersion.objects.select_related("action").order_by("outcome", "action__order", "-version")[
        :100
    ]
    curves = [reliability(v) for v in versions if v.is_active and v.metrics.get("calibration")]
    # The same period and filters as the NBA dashboard, so both show the same lift.
    filters, form = parse_filters(request.GET)
    job = Job.objects.filter(kind="insights.rescore").order_by("-created_at").first()
    return render(
        request,
        "analytics/nba_performance.html",
        {
            "rows": rows,
            "versions": versions,
            "curves": curves,
            "lift": kpis.lift(filters),
            "filters": filters,
            "period_form": form,
            "job": job,
            "can_run": request.user.has_perm("insights.change_action"),
        },
    )
