"""The 360 page: everything on one page, in a constant number of queries."""

import datetime
import re

import pytest
from django.utils import timezone

from customer360 import timeline
from customer360.models import TimelineEvent
from tests.conftest import client_for


def _bulk_events(customer, n):
    start = timezone.now() - datetime.timedelta(days=400)
    timeline.record_many(
        timeline.EventData(
            customer_id=customer.pk,
            department=["sales", "service", "marketing", "accounting"][i % 4],
            kind="note.added",
            title=f"Event {i}",
            idempotency_key=f"page:{customer.pk}:{i}",
            occurred_at=start + datetime.timedelta(minutes=i),
        )
        for i in range(n)
    )


def _rep_called(customer, rep, key: str, days_ago: int):
    """A call this rep logged ``days_ago``: the rep's last contact, from which the brief counts."""
    timeline.record(
        customer=customer,
        department="sales",
        kind="call.logged",
        title="Call",
        actor=rep,
        idempotency_key=key,
        occurred_at=timezone.now() - datetime.timedelta(days=days_ago),
    )


@pytest.mark.django_db
def test_page_query_count_is_constant_from_10_to_10000_events(rep, customer, django_assert_max_num_queries):
    client = client_for(rep)
    _bulk_events(customer, 10)
    # A last contact by this rep: the brief then also counts what happened since.
    _rep_called(customer, rep, "page:call", days_ago=300)
    # A fixed budget (the access-log row and the learned risks in the header included); what this test
    # guards is that it stays constant.
    # +2 for purchases: the sales panel's orders (shared with the brief) and billing's revenue events.
    with django_assert_max_num_queries(25) as small:
        response = client.get(f"/customers/{customer.pk}/")
    assert response.status_code == 200
    _bulk_events(customer, 10_000)
    assert TimelineEvent.objects.filter(customer=customer).count() == 10_001
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(f"/customers/{customer.pk}/")
    page = response.content.decode()
    assert "Event 9999" in page and "Load more" in page


@pytest.mark.django_db
def test_timeline_is_grouped_by_day_newest_first_with_department_colours(rep, customer):
    day = timezone.now().replace(hour=12) - datetime.timedelta(days=3)
    for i, dept in enumerate(["accounting", "service", "marketing", "sales"]):
        timeline.record(
            customer=customer,
            department=dept,
            kind="note.added",
            title=f"{dept} thing",
            idempotency_key=f"grp:{i}",
            occurred_at=day + datetime.timedelta(days=i // 2, hours=i),
        )
    page = client_for(rep).get(f"/customers/{customer.pk}/").content.decode()
    order = [page.index(f"{d} thing") for d in ("sales", "marketing", "service", "accounting")]
    assert order == sorted(order)
    assert page.count('<li class="day">') == 2
    assert 'class="event dept-accounting"' in page


@pytest.mark.django_db
def test_note_quick_action_lands_on_the_timeline_once(rep, customer):
    client = client_for(rep)
    data = {"text": "Asked about the renewal", "token": "abc123"}
    first = client.post(f"/customers/{customer.pk}/notes/", data, headers={"HX-Request": "true"})
    client.post(f"/customers/{customer.pk}/notes/", data, headers={"HX-Request": "true"})  # double submit
    assert first["HX-Trigger"] == "timeline-changed"
    notes = TimelineEvent.objects.filter(customer=customer, kind="note.added")
    assert notes.count() == 1
    assert notes.get().summary == "Asked about the renewal"
    assert notes.get().department == "sales"
    timeline_html = client.get(f"/customers/{customer.pk}/timeline/").content.decode()
    assert "Asked about the renewal" in timeline_html


@pytest.mark.django_db
def test_empty_note_is_refused_with_a_message(rep, customer):
    response = client_for(rep).post(f"/customers/{customer.pk}/notes/", {"text": "", "token": "t"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not TimelineEvent.objects.filter(kind="note.added").exists()


@pytest.mark.django_db
def test_brief_says_what_changed_since_this_reps_last_contact(rep, rep2, customer, stand_in_kinds):
    from customer360.brief import brief_for

    assert brief_for(customer, rep).since is None
    now = timezone.now()
    call_time = now - datetime.timedelta(days=21)
    timeline.record(
        customer=customer,
        department="sales",
        kind="call.logged",
        title="Call",
        actor=rep,
        idempotency_key="b:call",
        occurred_at=call_time,
    )
    for i, dept in enumerate(["service", "service", "accounting"]):
        timeline.record(
            customer=customer,
            department=dept,
            kind="note.added",
            title="x",
            idempotency_key=f"b:{i}",
            occurred_at=now - datetime.timedelta(days=3),
        )
    timeline.record(
        customer=customer,
        department="marketing",
        kind="email.opened",
        title="old",
        idempotency_key="b:old",
        occurred_at=now - datetime.timedelta(days=40),
    )
    brief = brief_for(type(customer).objects.get(pk=customer.pk), rep)
    assert brief.since == call_time
    assert brief.changes[-1] == "3 events on the timeline (Service 2, Accounting 1)"
    # Another rep's calls are not this rep's last contact.
    assert brief_for(type(customer).objects.get(pk=customer.pk), rep2).since is None


@pytest.mark.django_db
def test_timeline_says_no_match_when_a_filter_matches_nothing(rep, customer):
    client = client_for(rep)
    empty = client.get(f"/customers/{customer.pk}/timeline/").content.decode()
    assert "Nothing on the timeline yet." in empty
    timeline.record(
        customer=customer, department="sales", kind="note.added", title="A note", idempotency_key="flt:1"
    )
    filtered = client.get(f"/customers/{customer.pk}/timeline/?department=accounting").content.decode()
    assert "No events match these filters." in filtered
    assert "Nothing on the timeline yet." not in filtered
    german = client.get(
        f"/customers/{customer.pk}/timeline/?q=nichts", HTTP_ACCEPT_LANGUAGE="de"
    ).content.decode()
    assert "Keine Ereignisse passen zu diesen Filtern." in german


@pytest.mark.django_db
def test_the_brief_says_how_long_ago_the_last_contact_was_in_either_language(rep, customer):
    _rep_called(customer, rep, "ago:call", days_ago=135)
    client = client_for(rep)
    english = client.get(f"/customers/{customer.pk}/").content.decode()
    # 135 days are 4 months and 1 or 2 weeks, by the months' lengths
    assert re.search(r"Since your last contact \(4\xa0months, [12]\xa0weeks? ago\):", english)
    # German: "4 Monate her", not "vor 4 Monate" (after "vor" it would have to be "Monaten")
    german = client.get(f"/customers/{customer.pk}/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert re.search(r"Seit Ihrem letzten Kontakt \(4\xa0Monate, [12]\xa0Wochen? her\):", german)
