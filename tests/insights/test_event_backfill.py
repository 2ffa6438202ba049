"""insights' data migration 0005: NBA feedback events recorded before the declarations get the
action's name in both languages, so a German reader reads the action's German name."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone, translation

from customer360.models import TimelineEvent
from insights.models import Action

pytestmark = pytest.mark.django_db
migration = importlib.import_module("insights.migrations.0005_backfill_feedback_event_payloads")


def old_event(customer, kind: str, title: str, payload: dict) -> TimelineEvent:
    return TimelineEvent.objects.create(
        customer=customer,
        department="system",
        kind=kind,
        title=title,
        idempotency_key=f"old:{title}",
        occurred_at=timezone.now(),
        payload=payload,
    )


def test_old_feedback_events_get_the_action_names_and_read_in_german(customer):
    upsell, renewal = Action.objects.get(key="upsell"), Action.objects.get(key="renewal_call")
    # The services stored the action's key, the old demo seeder its id.
    old_event(customer, "nba.accepted", "Recommendation accepted: Upsell (premium plan)",
              {"recommendation_id": 1, "action": "upsell"})  # fmt: skip
    old_event(customer, "nba.dismissed", "Recommendation dismissed: Renewal call",
              {"action": renewal.pk, "outcome": None, "reason": "declined"})  # fmt: skip
    old_event(customer, "nba.completed", "Recommendation completed: Upsell (premium plan)",
              {"recommendation_id": 2, "action": "upsell", "outcome": "success"})  # fmt: skip
    old_event(customer, "nba.completed", "Recommendation completed: Retired action",
              {"action": "retired", "outcome": "failure"})  # fmt: skip

    migration.forward(apps, SimpleNamespace(connection=connection))

    events = {e.title: e for e in TimelineEvent.objects.filter(kind__startswith="nba.")}
    dismissed = events["Recommendation dismissed: Renewal call"]
    assert dismissed.payload["action"] == "renewal_call"
    assert dismissed.payload["action_name"] == {"en": renewal.name_en, "de": renewal.name_de}
    with translation.override("de"):
        titles = sorted(e.display_title for e in events.values())
    assert titles == sorted(
        [
            f"Empfehlung angenommen: {upsell.name_de}",
            f"Empfehlung abgelehnt: {renewal.name_de} (Kunde hat abgelehnt)",
            f"Empfehlung erledigt: {upsell.name_de} (Erfolg (Kunde hat angenommen))",
            "Recommendation completed: Retired action",  # its action is gone: the stored text
        ]
    )
