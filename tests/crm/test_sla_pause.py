"""SLA in tickets: the company calendar (Vienna by default) and the clock paused while waiting."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from crm import services
from crm.models import BusinessHours, ClosingDay, Ticket
from crm.tasks import check_sla_breaches
from tests.conftest import client_for
from tests.crm.factories import make_ticket
from tests.crm.test_api import api

pytestmark = pytest.mark.django_db
VIENNA = ZoneInfo("Europe/Vienna")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=VIENNA)


def test_the_default_company_calendar_is_vienna_with_the_admins_closing_days(service_user):
    row = BusinessHours.objects.get()
    assert (row.country, row.subdivision) == ("AT", "9")
    with time_machine.travel(at(2026, 12, 24, 16), tick=False):
        ticket = make_ticket(service_user)  # normal: 480 min first response
    assert ticket.first_response_due == at(2026, 12, 28, 15)  # not 25 December
    # The admin closes 24 December every year from 12:00 (entered once, for 2025).
    ClosingDay.objects.create(
        date=date(2025, 12, 24), name="Heiliger Abend", closes_at=time(12), every_year=True
    )
    with time_machine.travel(at(2026, 12, 24, 10), tick=False):
        ticket = make_ticket(service_user)
    assert ticket.first_response_due == at(2026, 12, 28, 14)  # 2 h on the 24th, 6 h on the 28th


def test_bavarian_company_calendar(service_user):
    BusinessHours.objects.update(country="DE", subdivision="BY", timezone="Europe/Berlin")
    with time_machine.travel(at(2026, 4, 2, 16, 30), tick=False):  # Maundy Thursday 16:30
        ticket = make_ticket(service_user, priority="urgent")  # 60 min
    # 30 min on Thursday, then closed on Good Friday, the weekend and Easter Monday
    assert ticket.first_response_due == at(2026, 4, 7, 8, 30)


def test_waiting_for_the_customer_pauses_the_clock_and_moves_the_due_time_on(service_user):
    with time_machine.travel(at(2026, 3, 9, 9), tick=False):
        ticket = make_ticket(service_user, priority="high")  # 240 / 1440 business minutes
    assert ticket.resolution_due == at(2026, 3, 11, 15)
    with time_machine.travel(at(2026, 3, 9, 9, 30), tick=False):
        services.ticket_reply(ticket=ticket, user=service_user, body="Which order number?")
    with time_machine.travel(at(2026, 3, 9, 10), tick=False):
        ticket = services.ticket_set_status(ticket=ticket, user=service_user, status="waiting")
    assert ticket.sla_paused_since == at(2026, 3, 9, 10)
    # Past the old due time while waiting: no breach, shown as paused.
    with time_machine.travel(at(2026, 3, 11, 16), tick=False):
        assert check_sla_breaches() == 0
        assert not Ticket.objects.breached().exists()
        ticket.refresh_from_db()
        assert ticket.sla_state == "paused"
    # The customer answers Thursday 10:00: paused Mon 10-17, Tue, Wed, Thu 8-10 = 27 h.
    with time_machine.travel(at(2026, 3, 12, 10), tick=False):
        ticket = services.ticket_set_status(ticket=ticket, user=service_user, status="open")
    assert ticket.sla_paused_since is None
    assert ticket.sla_paused_minutes == 27 * 60
    # 23 h were left at the pause: Thu 10-17, Fri, Mon 8-15.
    assert ticket.resolution_due == at(2026, 3, 16, 15)
    assert ticket.first_response_due == at(2026, 3, 9, 13)  # answered before the pause: unchanged
    with time_machine.travel(at(2026, 3, 16, 14, 59), tick=False):
        assert check_sla_breaches() == 0
    with time_machine.travel(at(2026, 3, 16, 15, 30), tick=False):
        assert check_sla_breaches() == 1
    ticket.refresh_from_db()
    assert ticket.sla_breached_resolution and ticket.resolution_breached_at == at(2026, 3, 16, 15)


def test_unanswered_ticket_pauses_both_clocks_and_solving_while_waiting_counts_the_pause(service_user):
    with time_machine.travel(at(2026, 3, 9, 9), tick=False):
        ticket = make_ticket(service_user, priority="urgent")  # 60 / 480
        ticket = services.ticket_set_status(ticket=ticket, user=service_user, status="waiting")
    with time_machine.travel(at(2026, 3, 10, 9), tick=False):  # 9 business hours later
        assert check_sla_breaches() == 0
        ticket = services.ticket_solve(ticket=ticket, user=service_user)
    assert ticket.sla_paused_minutes == 9 * 60
    assert ticket.first_response_due == at(2026, 3, 10, 10)
    assert ticket.resolution_due == at(2026, 3, 10, 17)
    with time_machine.travel(at(2026, 3, 10, 9, 5), tick=False):
        check_sla_breaches()
    ticket.refresh_from_db()
    assert not ticket.sla_breached_resolution


def test_priority_change_after_a_pause_keeps_the_paused_time(service_user):
    with time_machine.travel(at(2026, 3, 9, 9), tick=False):
        ticket = make_ticket(service_user, priority="normal")
        ticket = services.ticket_set_status(ticket=ticket, user=service_user, status="waiting")
    with time_machine.travel(at(2026, 3, 9, 11), tick=False):
        ticket = services.ticket_set_status(ticket=ticket, user=service_user, status="open")
        ticket = services.ticket_update(ticket=ticket, user=service_user, priority="urgent")
    assert ticket.sla_paused_minutes == 120
    # urgent: 480 min + 120 min paused = 10 h from Monday 9:00 (8 h on Monday) -> Tuesday 10:00
    assert ticket.resolution_due == at(2026, 3, 10, 10)
    assert ticket.first_response_due == at(2026, 3, 9, 12)  # 60 + 120 min, not answered yet


def test_the_ticket_page_pauses_resumes_and_shows_the_pause(service_user):
    client = client_for(service_user)
    with time_machine.travel(at(2026, 3, 9, 9), tick=False):
        ticket = make_ticket(service_user, priority="high")
        page = client.get(ticket.get_absolute_url()).content.decode()
        assert "Wait for the customer (pause the SLA clock)" in page
        assert "Running" in page
    with time_machine.travel(at(2026, 3, 9, 10), tick=False):
        response = client.post(reverse("crm:ticket_status", args=[ticket.pk]), {"status": "waiting"})
        assert response.status_code == 302
        page = client.get(ticket.get_absolute_url()).content.decode()
    assert "Waiting for customer" in page
    assert "Waiting for the customer: the SLA clock is paused." in page
    assert "Paused" in page and "while the ticket waits for the customer" in page
    assert "Customer answered: resume the SLA clock" in page
    with time_machine.travel(at(2026, 3, 10, 10), tick=False):
        client.post(
            reverse("crm:ticket_status", args=[ticket.pk]), {"status": "open"}, HTTP_ACCEPT_LANGUAGE="de"
        )
        page = client.get(ticket.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.sla_paused_minutes == 9 * 60
    assert "9 Std. 0 Min." in page  # German: the pause in business time
    assert "Die SLA-Uhr läuft wieder; die Fälligkeiten haben sich um die Pause verschoben." in page


def test_the_admin_calendar_refuses_an_unknown_state():
    row = BusinessHours(name="Munich", country="DE", subdivision="XX")
    with pytest.raises(ValidationError):
        row.full_clean()
    BusinessHours(
        name="Munich", country="DE", subdivision="BY", holiday_categories="public, catholic"
    ).full_clean()


def test_status_route_refuses_other_statuses_and_needs_the_change_permission(service_user, rep):
    ticket = make_ticket(service_user)
    client_for(service_user).post(reverse("crm:ticket_status", args=[ticket.pk]), {"status": "closed"})
    ticket.refresh_from_db()
    assert ticket.status == "new"
    assert (
        client_for(rep)
        .post(reverse("crm:ticket_status", args=[ticket.pk]), {"status": "waiting"})
        .status_code
        == 403
    )
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_the_api_pauses_and_resumes_the_clock(service_user, rep):
    with time_machine.travel(at(2026, 3, 9, 9), tick=False):
        ticket = make_ticket(service_user, priority="high")
    url = f"/api/crm/tickets/{ticket.pk}/status/"
    with time_machine.travel(at(2026, 3, 9, 10), tick=False):
        body = api(service_user).post(url, {"status": "waiting"}, format="json").json()
    assert body["status"] == "waiting" and body["sla_state"] == "paused"
    assert body["sla_paused_since"] is not None
    with time_machine.travel(at(2026, 3, 9, 12), tick=False):
        body = api(service_user).post(url, {"status": "open"}, format="json").json()
    assert body["sla_paused_minutes"] == 120 and body["sla_paused_since"] is None
    refused = api(service_user).post(url, {"status": "closed"}, format="json")
    assert refused.status_code == 400 and "status" in refused.json()
    assert api(rep).post(url, {"status": "waiting"}, format="json").status_code == 403
