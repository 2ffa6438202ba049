"""collab's data migration 0004: feed events recorded before the declarations get the payload the
service writes today (space or department, author, the title's excerpt), so they read in German."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import translation

from collab import services
from customer360.models import TimelineEvent
from tests.collab.factories import post

pytestmark = pytest.mark.django_db
migration = importlib.import_module("collab.migrations.0004_backfill_event_payloads")
REFERENCES = ("post_id", "space_id", "request_id")


def run_migration() -> None:
    migration.forward(apps, SimpleNamespace(connection=connection))


def test_old_feed_events_get_the_services_payload_and_read_in_german(gruber, service_user):
    post(service_user, "Lieferung für #Gruber ist unterwegs")
    post(
        service_user,
        "@accounting bitte Mahnung für #Gruber stoppen",
        request=services.RequestData(to_department="accounting", kind="task", priority="high"),
    )
    events = TimelineEvent.objects.filter(customer=gruber, department="internal")
    written = {e.kind: e.payload for e in events}
    assert set(written) == {"internal.post", "internal.request"}
    for event in events:  # as the events were stored before the declarations: references only
        old = {key: event.payload.get(key) for key in REFERENCES}
        TimelineEvent.objects.filter(pk=event.pk).update(payload=old)
    with translation.override("de"):
        assert all(e.display_title.startswith("Internal ") for e in events.all())

    run_migration()

    assert {e.kind: e.payload for e in events.all()} == written
    who = service_user.get_full_name() or service_user.get_username()
    with translation.override("de"):
        titles = {e.kind: e.display_title for e in events.all()}
    assert titles["internal.request"] == (
        f"Interne Anfrage an Buchhaltung von {who}: @accounting bitte Mahnung für Franz Gruber stoppen"
    )
    assert titles["internal.post"].startswith("Interne Diskussion in ")
    assert titles["internal.post"].endswith(f" von {who}: Lieferung für Franz Gruber ist unterwegs")


def test_an_event_whose_title_names_another_author_keeps_its_text(gruber, service_user):
    post(service_user, "Rückruf bei #Gruber erledigt")
    event = TimelineEvent.objects.get(customer=gruber, department="internal")
    title = "Internal discussion in Service by Someone Else: Rückruf erledigt"
    TimelineEvent.objects.filter(pk=event.pk).update(
        payload={"post_id": event.payload["post_id"]}, title=title
    )

    run_migration()

    event.refresh_from_db()
    assert event.payload == {"post_id": event.payload["post_id"]}
    with translation.override("de"):
        assert event.display_title == title
