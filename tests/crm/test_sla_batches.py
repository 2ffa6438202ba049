"""The SLA check claims breaches in batches: each flagged once, with one event on its own customer's
timeline, whatever the batch size; a run takes at most its limit and the next run the rest."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from crm.models import Ticket
from crm.services import sla
from customer360.models import TimelineEvent
from tests.crm.factories import make_ticket

pytestmark = pytest.mark.django_db
VIENNA = ZoneInfo("Europe/Vienna")


def test_breaches_are_claimed_in_batches_each_once_with_its_event(service_user, monkeypatch):
    monkeypatch.setattr(sla, "BATCH", 3)
    with time_machine.travel(datetime(2026, 3, 6, 16, 0, tzinfo=VIENNA), tick=False):
        tickets = [make_ticket(service_user, priority="high", subject=f"Ticket {i}") for i in range(7)]
    with time_machine.travel(datetime(2026, 3, 9, 12, 0, tzinfo=VIENNA), tick=False):
        # 7 first responses overdue (due Monday 11:00), at most 5 per run: 5, then 2, then none
        assert sla.ticket_flag_sla_breaches(limit=5) == 5
        assert sla.ticket_flag_sla_breaches(limit=5) == 2
        assert sla.ticket_flag_sla_breaches(limit=5) == 0
    breached = TimelineEvent.objects.filter(kind="ticket.sla_breached").order_by("source_id")
    assert sorted((e.customer_id, int(e.source_id)) for e in breached) == sorted(
        (t.customer_id, t.pk) for t in tickets
    )
    for event in breached:
        ticket = Ticket.objects.get(pk=int(event.source_id))
        assert ticket.sla_breached_first_response and not ticket.sla_breached_resolution
        assert ticket.first_response_breached_at == datetime(2026, 3, 9, 11, 0, tzinfo=VIENNA)
        assert event.occurred_at == ticket.first_response_breached_at
        assert event.payload["sla"] == "first_response" and event.payload["ticket_id"] == ticket.pk
        assert event.source_url == ticket.get_absolute_url()
        assert event.actor_label == "SLA check"
