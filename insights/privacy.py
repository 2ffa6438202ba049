"""Recommendations (with their reasons), scores, the features the models see and the texts the
listening analysis read, in a subject export; on erasure the rows kept for scoring and training
(recommendations with outcomes, scores, listened texts, sentiment, risk) are deleted. Revenue
per day stays: it is derived from the invoices the law keeps, under the same pseudonym.

Covers both insights apps (``insights`` and ``insights.analytics``, label "analytics")."""

from __future__ import annotations

import json

from django.utils.translation import gettext_lazy as _

from customer360.privacy.registry import SubjectData, rows, subject_data
from insights.analytics.models import (
    CustomerConversion,
    CustomerRevenue,
    CustomerRisk,
    CustomerSentiment,
    ListenedMessage,
)
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
        "listened_messages": rows(ListenedMessage.objects.filter(customer=customer)),
        "sentiment": rows(CustomerSentiment.objects.filter(customer=customer)),
        "risk": rows(CustomerRisk.objects.filter(customer=customer)),
        "conversion": rows(CustomerConversion.objects.filter(customer=customer)),
        "revenue": rows(CustomerRevenue.objects.filter(customer=customer)),
    }


def erase(customer, request) -> dict[str, int]:
    return {
        "recommendations": Recommendation.objects.filter(customer=customer).delete()[0],
        "scores": CustomerScore.objects.filter(customer=customer).delete()[0],
        "listened_messages": ListenedMessage.objects.filter(customer=customer).delete()[0],
        "sentiment": CustomerSentiment.objects.filter(customer=customer).delete()[0],
        "risk": CustomerRisk.objects.filter(customer=customer).delete()[0],
        "conversion": CustomerConversion.objects.filter(customer=customer).delete()[0],
    }


subject_data.register(
    SubjectData(
        key="insights",
        label=_("Recommendations and analytics"),
        app_labels=("insights", "analytics"),
        export=export,
        erase=erase,
        order=60,
    )
)
