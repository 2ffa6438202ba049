"""Service workflows: SLA due times from business hours, breach check once, transitions, retries."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from crm import services
from crm.models import Satisfaction, Ticket, TicketMessage
from crm.tasks import check_sla_breaches
from customer360.models import TimelineEvent
from tests.crm.factories import make_ticket

pytestmark = pytest.mark.django_db
VIENNA = ZoneInfo("Europe/Vienna")
FRIDAY_16 = datetime(2026, 3, 6, 16, 0, tzinfo=VIENNA)


def events(kind, ticket=None):
    qs = TimelineEvent.objects.filter(kind=kind)
    return qs.filter(source_id=str(ticket.pk)) if ticket else qs


def test_high_priority_ticket_opened_friday_afternoon_gets_business_hour_due_times(service_user):
    with time_machine.travel(FRIDAY_16, tick=False):
        ticket = make_ticket(service_user, priority="high", category="complaint")
    # high: 240 min first response, 1440 min resolution; Mon-Fri 08:00-17:00 Vienna
    assert ticket.first_response_due == datetime(2026, 3, 9, 11, 0, tzinfo=VIENNA)
    assert ticket.resolution_due == datetime(2026, 3, 11, 13, 0, tzinfo=VIENNA)
    event = events("ticket.opened", ticket).get()
    assert event.title == "Complaint opened: Lieferung verspätet"
    assert event.payload == {
        "ticket_id": ticket.pk,
        "subject": "Lieferung verspätet",
        "category": "complaint",
        "priority": "high",
    }


def test_periodic_check_flags_a_breach_exactly_once(service_user):
    with time_machine.travel(FRIDAY_16, tick=False):
        ticket = make_ticket(service_user, priority="high")
    with time_machine.travel(datetime(2026, 3, 9, 10, 59, tzinfo=VIENNA), tick=False):
        assert check_sla_breaches() == 0  # due 11:00: not yet
    with time_machine.travel(datetime(2026, 3, 9, 12, 0, tzinfo=VIENNA), tick=False):
        assert check_sla_breaches() == 1
        assert check_sla_breaches() == 0
    ticket.refresh_from_db()
    assert ticket.sla_breached_first_response is True
    assert ticket.first_response_breached_at == datetime(2026, 3, 9, 11, 0, tzinfo=VIENNA)
    assert ticket.sla_breached_resolution is False
    assert events("ticket.sla_breached", ticket).count() == 1
    assert ticket.sla_state == "breached"
    assert list(Ticket.objects.breached()) == [ticket]


def test_late_first_reply_is_flagged_by_the_check_too(service_user):
    with time_machine.travel(FRIDAY_16, tick=False):
        ticket = make_ticket(service_user, priority="urgent")  # due Friday 17:00
    with time_machine.travel(datetime(2026, 3, 9, 9, 0, tzinfo=VIENNA), tick=False):
        services.ticket_reply(ticket=ticket, user=service_user, body="Sorry for the wait")
        assert check_sla_breaches() == 1
        assert check_sla_breaches() == 0
    assert events("ticket.sla_breached", ticket).count() == 1


def test_reply_sets_first_response_and_note_does_not(service_user):
    ticket = make_ticket(service_user)
    services.ticket_reply(ticket=ticket, user=service_user, body="internal", is_internal=True)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None and ticket.status == "new"
    services.ticket_reply(ticket=ticket, user=service_user, body="Hello")
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None and ticket.status == "open"
    assert events("ticket.note", ticket).count() == 1
    assert events("ticket.replied", ticket).count() == 1


def test_every_action_writes_one_event_also_when_retried(service_user):
    ticket = make_ticket(service_user, token="t-1")
    assert make_ticket(service_user, customer=ticket.customer, token="t-1").pk == ticket.pk
    assert Ticket.objects.count() == 1
    services.ticket_reply(ticket=ticket, user=service_user, body="Hi", token="m-1")
    services.ticket_reply(ticket=ticket, user=service_user, body="Hi", token="m-1")
    assert TicketMessage.objects.count() == 1
    for _ in range(2):
        services.ticket_solve(ticket=ticket, user=service_user)
    for _ in range(2):
        services.ticket_record_csat(ticket=ticket, score=2, comment="slow")
    for _ in range(2):
        services.ticket_close(ticket=ticket, user=service_user)
    kinds = list(TimelineEvent.objects.filter(customer=ticket.customer).values_list("kind", flat=True))
    assert sorted(kinds) == sorted(
        ["ticket.opened", "ticket.replied", "ticket.solved", "csat.received", "ticket.closed"]
    )
    assert TimelineEvent.objects.get(kind="csat.received").payload["score"] == 2


def test_reopen_then_solve_again_records_a_second_solve(service_user):
    ticket = make_ticket(service_user)
    services.ticket_solve(ticket=ticket, user=service_user)
    services.ticket_reopen(ticket=ticket, user=service_user)
    services.ticket_reopen(ticket=ticket, user=service_user)
    services.ticket_solve(ticket=ticket, user=service_user)
    assert events("ticket.solved", ticket).count() == 2
    assert events("ticket.reopened", ticket).count() == 1


def test_invalid_transitions_are_refused_and_nothing_is_written(service_user):
    ticket = make_ticket(service_user)
    with pytest.raises(ValidationError) as csat_refused:
        services.ticket_record_csat(ticket=ticket, score=4)
    assert "ticket" in csat_refused.value.message_dict
    assert not Satisfaction.objects.exists()
    with pytest.raises(ValidationError) as close_refused:
        services.ticket_close(ticket=ticket, user=service_user)
    assert "status" in close_refused.value.message_dict
    services.ticket_solve(ticket=ticket, user=service_user)
    services.ticket_close(ticket=ticket, user=service_user)
    before = TimelineEvent.objects.count()
    for action in (services.ticket_solve, services.ticket_reopen):
        with pytest.raises(ValidationError) as refused:
            action(ticket=ticket, user=service_user)
        assert refused.value.message_dict["status"] == [
            "A ticket that is Closed cannot become "
            + ("Solved." if action is services.ticket_solve else "Reopened.")
        ]
    with pytest.raises(ValidationError):
        services.ticket_reply(ticket=ticket, user=service_user, body="late")
    with pytest.raises(ValidationError) as score_refused:
        services.ticket_record_csat(ticket=ticket, score=9)
    assert "score" in score_refused.value.message_dict
    assert TimelineEvent.objects.count() == before
    ticket.refresh_from_db()
    assert ticket.status == "closed"


def test_priority_change_recomputes_due_times(service_user):
    with time_machine.travel(FRIDAY_16, tick=False):
        ticket = make_ticket(service_user, priority="low")
        ticket = services.ticket_update(ticket=ticket, user=service_user, priority="urgent")
    assert ticket.first_response_due == datetime(2026, 3, 6, 17, 0, tzinfo=VIENNA)  # urgent: 60 min
