"""The core's data migration 0018: events recorded before the declarations get the payload fields
their declarations render from (the services' own payload), so a German reader reads German."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone, translation

from customer360 import services
from customer360.models import TimelineEvent
from customer360.sources.merging import customer_merge, merge_undo
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
migration = importlib.import_module("customer360.migrations.0018_backfill_core_event_payloads")

# What the events carried before the declarations (the stored English title was all they had).
OLD_KEYS = {
    "note.added": (),
    "customer.changed": ("fields",),
    "customer.merged": ("merge_id", "merged_customer_id", "moved"),
    "customer.merge_undone": ("merge_id", "merged_customer_id"),
}


def run_migration() -> None:
    # The migration reads only the connection of its schema editor (vendor and cursor).
    migration.forward(apps, SimpleNamespace(connection=connection))


def make_old(kinds) -> dict[str, dict]:
    """Strip the events of ``kinds`` back to their old payload; returns the payloads they had."""
    written = {}
    for event in TimelineEvent.objects.filter(kind__in=kinds):
        written[event.kind] = event.payload
        old = {key: event.payload[key] for key in OLD_KEYS[event.kind]}
        TimelineEvent.objects.filter(pk=event.pk).update(payload=old)
    return written


def test_old_core_events_get_their_fields_back_and_read_in_german(rep, customer):
    services.note_add(customer=customer, user=rep, text="Ruft morgen zurück", token="t1")
    services.customer_update(customer=customer, user=rep, changes={"city": "Linz"})
    other = CustomerFactory(first_name="Maria", last_name="Huber", owner=rep)
    merge = customer_merge(kept=customer, merged=other, user=rep)
    merge_undo(merge=merge, user=rep)
    written = make_old(OLD_KEYS)
    assert set(written) == set(OLD_KEYS)
    with translation.override("de"):
        stored = TimelineEvent.objects.get(kind="customer.merged").display_title
        assert stored.startswith("Merged Maria Huber")  # the stored English text, before

    run_migration()

    events = {e.kind: e for e in TimelineEvent.objects.filter(kind__in=OLD_KEYS)}
    assert {kind: events[kind].payload for kind in OLD_KEYS} == written
    with translation.override("de"):
        titles = {kind: events[kind].display_title for kind in OLD_KEYS}
    assert titles["note.added"] == "Notiz von Anna Berger"
    assert titles["customer.changed"] == "Kundendaten geändert von Anna Berger: Ort"
    assert titles["customer.merged"] == f"{merge.merged_label} mit diesem Kunden zusammengeführt"
    assert titles["customer.merge_undone"] == f"Zusammenführung von {merge.merged_label} rückgängig gemacht"


def test_events_whose_source_is_gone_keep_their_stored_text(rep, customer):
    services.note_add(customer=customer, user=rep, text="x", token="t2")
    TimelineEvent.objects.filter(kind="note.added").update(payload={}, actor=None, title="Note by someone")
    TimelineEvent.objects.create(
        customer=customer,
        department="system",
        kind="customer.merged",
        title="Merged Old Record into this customer",
        idempotency_key="old-merge",
        occurred_at=timezone.now(),
        payload={"merge_id": 987654, "merged_customer_id": 5},
    )

    run_migration()

    with translation.override("de"):
        titles = sorted(e.display_title for e in TimelineEvent.objects.filter(kind__in=OLD_KEYS))
    assert titles == ["Merged Old Record into this customer", "Note by someone"]
