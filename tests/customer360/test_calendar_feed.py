"""The calendar feed: a secret URL (hash stored), the user's follow-ups and SLA due times as ICS
read back with icalendar; revoked or replaced addresses answer 404."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from crm.models import Activity, Ticket
from customer360.models import CalendarFeedToken
from tests.conftest import client_for
from tests.crm.factories import make_activity, make_ticket
from tests.factories import CustomerFactory, assign


def feed_url(client) -> str:
    page = client.post("/account/calendar/")
    assert page.status_code == 200
    match = re.search(
        r'id="feed-url" class="secret">https?://[^/]+(/calendar/[^<]+\.ics)<', page.content.decode()
    )
    assert match, "the new address is shown once"
    return match.group(1)


def events(response) -> dict[str, object]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


@pytest.fixture
def world(rep, rep2, service_user):
    gruber = CustomerFactory(first_name="Franz", last_name="Gruber", owner=rep)
    other = CustomerFactory(first_name="Nora", last_name="Andere", owner=rep2)
    soon = timezone.localdate() + datetime.timedelta(days=3)
    mine = make_activity(rep, gruber, subject="Angebot nachfassen", follow_up_date=soon)
    done = make_activity(rep, gruber, subject="Erledigt", follow_up_date=soon)
    Activity.objects.filter(pk=done.pk).update(follow_up_done=True)
    make_activity(rep2, other, subject="Nicht meins", follow_up_date=soon)
    assign(gruber, "service")
    ticket = make_ticket(service_user, gruber, subject="Lieferung fehlt", assignee=service_user)
    return {"activity": mine, "ticket": ticket, "soon": soon}


def test_feed_lists_own_follow_ups_and_sla_due_times(rep, service_user, world):
    rep_events = events(Client().get(feed_url(client_for(rep))))  # no session needed
    uid = f"c360-follow-up-{world['activity'].pk}"
    assert list(rep_events) == [uid]  # not the done one, not another rep's
    assert rep_events[uid].decoded("dtstart") == world["soon"]
    assert "Angebot nachfassen" in str(rep_events[uid]["summary"]) and "Gruber" in str(
        rep_events[uid]["summary"]
    )
    ticket = Ticket.objects.get(pk=world["ticket"].pk)
    service_events = events(Client().get(feed_url(client_for(service_user))))
    resolution = service_events[f"c360-ticket-{ticket.pk}-resolution"]
    assert resolution.decoded("dtstart") == ticket.resolution_due.replace(microsecond=0)
    assert f"c360-ticket-{ticket.pk}-first-response" in service_events


def test_only_the_hash_is_stored_and_revoked_or_replaced_urls_are_404(rep, world):
    client = client_for(rep)
    first = feed_url(client)
    secret = first.removeprefix("/calendar/").removesuffix(".ics")
    assert not CalendarFeedToken.objects.filter(token_hash__contains=secret).exists()
    second = feed_url(client)  # a new address replaces the old one
    assert Client().get(first).status_code == 404
    assert Client().get(second).status_code == 200
    assert client.post("/account/calendar/revoke/").status_code == 302
    assert Client().get(second).status_code == 404
    assert Client().get("/calendar/c360cal_guessed.ics").status_code == 404
