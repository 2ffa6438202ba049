"""The event kinds the NBA feedback records: a rep accepted, dismissed or completed a recommendation.

The action's name is stored in both languages (``{"en": ..., "de": ...}``) so that the timeline
renders it in the reader's language without a query per event.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from customer360 import events
from customer360.events import Field
from customer360.models import Channel, Department, Direction
from insights.models import Recommendation


def action_name(value) -> str:
    """``{"en": ..., "de": ...}`` in the reader's language (English when the other is missing)."""
    if not isinstance(value, dict):
        return str(value)
    language = (translation.get_language() or "en")[:2]
    return value.get(language) or value.get("en") or ""


def outcome_label(value) -> str:
    return str(dict(Recommendation.Outcome.choices).get(value, value))


def reason_label(value) -> str:
    return str(dict(Recommendation.DismissReason.choices).get(value, value))


_COMMON = [
    Field("recommendation_id", required=False),
    Field("action"),
    Field("action_name", action_name),
    Field("replaced_recommendation_id", required=False),
]
_OPTIONS = {
    "department": Department.SYSTEM,
    "channel": Channel.INTERNAL,
    "direction": Direction.INTERNAL,
}

NBA_ACCEPTED = events.declare(
    "nba.accepted",
    label=_("Recommendation accepted"),
    fields=_COMMON,
    title=_("Recommendation accepted: %(action_name)s"),
    **_OPTIONS,
)
NBA_DISMISSED = events.declare(
    "nba.dismissed",
    label=_("Recommendation dismissed"),
    fields=[*_COMMON, Field("reason", reason_label)],
    title=_("Recommendation dismissed: %(action_name)s (%(reason)s)"),
    **_OPTIONS,
)
NBA_COMPLETED = events.declare(
    "nba.completed",
    label=_("Recommendation completed"),
    fields=[*_COMMON, Field("outcome", outcome_label)],
    title=_("Recommendation completed: %(action_name)s (%(outcome)s)"),
    **_OPTIONS,
)


def action_names(action) -> dict:
    return {"en": action.name_en, "de": action.name_de or action.name_en}
