"""Recommendations (with their reasons), scores and the features the models see, in a subject
export; on erasure the rows kept for scoring and training (recommendations with outcomes, scores)
are deleted. Analytics contributes its own rows (analytics/privacy.py)."""

from __future__ import annotations

import json

from django.utils.translation import gettext_lazy as _

from customer360.privacy.registry import SubjectData, rows, subject_data
from insights.models import CustomerScore, Recommendation


def _features(customer) -> list[dict]:
    """The feature row the models score the customer by, as of now."""
    from insights.features import build_features

    frame = build_features([customer.pk])
    return json.loads(frame.reset_index().to_json(orient="records", date_format="iso"))


def export(customer) -> dict[str, list[dict]]:
    recommendations = Recommendation.objects.filter(customer=customer).values(
        "id",
        "action__key",
        "status",
        "rank",
        "priority",
        "propensity",
        "reasons",
        "created_at",
        "decided_at",
        "outcome",
        "note",
    )
    return {
        "recommendations": list(recommendations),
        "scores": rows(CustomerScore.objects.filter(customer=customer)),
        "features": _features(customer),
    }


def erase(customer, request) -> dict[str, int]:
    return {
        "recommendations": Recommendation.objects.filter(customer=customer).delete()[0],
        "scores": CustomerScore.objects.filter(customer=customer).delete()[0],
    }


subject_data.register(
    SubjectData(
        key="insights",
        label=_("Recommendations"),
        app_labels=("insights",),
        export=export,
        erase=erase,
        order=60,
    )
)
