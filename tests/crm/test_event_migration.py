"""crm's data migration 0005: old events get the payload fields their declarations render from."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone, translation

from crm import services
from customer360.models import TimelineEvent
from tests.crm.factories import make_activity, make_contract, make_deal, make_ticket

pytestmark = pytest.mark.django_db
migration = importlib.import_module("crm.migrations.0005_event_payloads")


def test_old_events_get_their_fields_and_render_in_german(rep, service_user):
    deal = make_deal(rep, title="Premium", amount=1240)
    services.deal_mark_lost(deal=deal, user=rep, reason="Zu teuer")
    note = make_activity(rep, deal.customer, kind="note", subject="Rückruf gewünscht")
    contract = make_contract(rep, deal.customer)
    ticket = make_ticket(service_user, subject="Lieferung verspätet", category="complaint")
    # What the events looked like before the declarations: fewer payload keys, the old note kind.
    old = {
        "deal.lost": {"deal_id": deal.pk, "amount": "1240.00", "stage": "Lost"},
        "note.logged": {"activity_id": note.pk, "outcome": "", "follow_up": None},
        "contract.started": {"contract_id": contract.pk, "product": "basic"},
        "ticket.opened": {"ticket_id": ticket.pk, "category": "complaint", "priority": "normal"},
    }
    for kind, payload in old.items():
        TimelineEvent.objects.filter(kind=kind).update(payload=payload)
    TimelineEvent.objects.filter(kind="note.logged").update(kind="note.added")
    core_note = TimelineEvent.objects.create(
        customer=deal.customer,
        department="sales",
        kind="note.added",
        title="Note by rep",
        idempotency_key="n1",
        occurred_at=timezone.now(),
    )
    with translation.override("de"):
        assert TimelineEvent.objects.get(kind="deal.lost").display_title.startswith("Deal lost")

    # The migration reads only the connection of its schema editor (vendor and cursor).
    migration.forward(apps, SimpleNamespace(connection=connection))

    by_kind = {e.kind: e for e in TimelineEvent.objects.exclude(pk=core_note.pk)}
    assert by_kind["deal.lost"].payload == {
        "deal_id": deal.pk,
        "title": "Premium",
        "amount": "1240.00",
        "stage": "Lost",
        "lost_reason": "Zu teuer",
    }
    assert by_kind["note.logged"].payload["subject"] == "Rückruf gewünscht"
    assert by_kind["contract.started"].payload["product_name"] == "Basic plan"
    assert by_kind["ticket.opened"].payload["subject"] == "Lieferung verspätet"
    core_note.refresh_from_db()
    assert (core_note.kind, core_note.payload) == ("note.added", {})  # the core's own note is left alone
    with translation.override("de"):
        assert by_kind["deal.lost"].display_title == "Verkaufschance verloren: Premium (Zu teuer)"
        assert by_kind["ticket.opened"].display_title == "Beschwerde eröffnet: Lieferung verspätet"
        assert by_kind["contract.started"].display_title == "Vertrag begonnen: Basic plan"
