"""What insights adds to the core: the "Next best actions" panel and menu entries."""

from __future__ import annotations

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from customer360 import roles
from customer360.registry import NavItem, Panel, navigation, panels
from insights.models import CustomerScore, Recommendation
from insights.reasons import sentence


def panel_context(request, customer) -> dict:
    """Open and in-progress recommendations (one query) and the scoring state (one query)."""
    language = get_language() or "en"
    recs = list(
        Recommendation.objects.filter(
            customer=customer, status__in=[Recommendation.Status.OPEN, Recommendation.Status.ACCEPTED]
        )
        .select_related("action")
        .order_by("status", "rank", "-priority")[:6]
    )
    score = CustomerScore.objects.filter(customer_id=customer.pk).only("scored_at", "holdout").first()
    items = [
        {
            "rec": rec,
            "name": rec.action.name(language),
            "reasons": rec.reason_texts(language),
            "sentence": sentence(rec.reason_texts(language), exploring=rec.is_exploration),
            "talking_points": rec.action.talking_points(language),
        }
        for rec in recs
    ]
    return {
        "items": [i for i in items if i["rec"].status == Recommendation.Status.OPEN],
        "accepted": [i for i in items if i["rec"].status == Recommendation.Status.ACCEPTED],
        "score": score,
        "can_act": request.user.has_perm("insights.change_recommendation"),
        "dismiss_reasons": Recommendation.DismissReason.choices,
        "outcomes": Recommendation.Outcome.choices,
    }


panels.register(
    Panel(
        key="nba",
        title=_("Next best actions"),
        template="insights/_panel.html",
        context=panel_context,
        order=15,
        department="internal",
        permission="insights.view_recommendation",
    )
)
navigation.register(
    NavItem(
        key="my_recommendations",
        label=_("My recommendations"),
        url_name="insights:my_recommendations",
        order=15,
        group="customers",
        permission="insights.view_recommendation",
    )
)
navigation.register(
    NavItem(
        key="nba_catalogue",
        label=_("Action catalogue"),
        url_name="insights:catalogue",
        order=81,
        group="admin",
        roles=(roles.ADMIN,),
    )
)
