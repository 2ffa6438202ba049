"""The API gives the same data as the pages: customers, key facts, cursor-paginated timeline."""

import datetime

import pytest
from django.utils import timezone

from customer360 import timeline
from tests.conftest import token_client_for
from tests.factories import CustomerFactory


@pytest.fixture
def api(rep):
    return token_client_for(rep)


def _events(customer, n, start=None):
    start = start or timezone.now() - datetime.timedelta(days=n)
    for i in range(n):
        timeline.record(
            customer=customer,
            department=["sales", "service", "marketing", "accounting"][i % 4],
            kind="note.added",
            title=f"Event {i}",
            idempotency_key=f"api:{customer.pk}:{i}",
            occurred_at=start + datetime.timedelta(hours=i),
        )


@pytest.mark.django_db
def test_anonymous_api_calls_are_refused(client, customer):
    assert client.get(f"/api/customers/{customer.pk}/").status_code in (401, 403)


@pytest.mark.django_db
def test_customer_detail_has_key_facts_and_brief(api, customer):
    body = api.get(f"/api/customers/{customer.pk}/").json()
    assert body["display_name"] == "Franz Gruber"
    assert set(body["key_facts"]) == {"panels", "brief"}
    assert set(body["key_facts"]["brief"]) >= {"red", "avoid", "info", "changes", "last_contact"}


@pytest.mark.django_db
def test_timeline_pages_return_every_event_once_even_while_new_events_arrive(api, customer):
    _events(customer, 60)
    seen, cursor, pages = [], "", 0
    while True:
        body = api.get(f"/api/customers/{customer.pk}/timeline/?size=25&cursor={cursor}").json()
        seen += [e["id"] for e in body["results"]]
        pages += 1
        if pages == 1:
            # Newer events arrive between the pages: they must not shift or repeat older ones.
            timeline.record(
                customer=customer,
                department="sales",
                kind="call.logged",
                title="New call",
                idempotency_key="api:new",
            )
        if not body["next"]:
            break
        cursor = body["next"]
    assert pages == 3
    assert len(seen) == 60 == len(set(seen))
    assert seen == sorted(seen, reverse=True)  # ids grow with time here: newest first


@pytest.mark.django_db
def test_timeline_filters(api, customer):
    _events(customer, 8)
    body = api.get(f"/api/customers/{customer.pk}/timeline/?department=service").json()
    assert [e["department"] for e in body["results"]] == ["service", "service"]
    body = api.get(f"/api/customers/{customer.pk}/timeline/?q=Event 7").json()
    assert [e["title"] for e in body["results"]] == ["Event 7"]


@pytest.mark.django_db
def test_customer_list_is_scoped(api, rep, rep2):
    mine = CustomerFactory(owner=rep)
    CustomerFactory(owner=rep2)
    ids = [c["id"] for c in api.get("/api/customers/").json()["results"]]
    assert ids == [mine.pk]
