"""The bulk API's answer and writes for a mixed batch: every refusal names its record and reason,
the good records around a bad one land, a retried or concurrent record is one event, and every
changed customer is announced for rescoring."""

import json
import threading

import pytest
from django.db import connection, connections
from django.test import Client

from customer360 import timeline
from customer360.models import Customer, CustomerIdentity, TimelineEvent
from customer360.sources import services
from tests.sources.factories import DataSourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_source():
    source = DataSourceFactory(slug="shop", kind="api", target="events", department="sales")
    return source, services.source_issue_token(source=source)


def _post(token, records, client=None):
    return (client or Client()).post(
        "/api/sources/shop/records",
        json.dumps({"records": records}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def _good(n, **extra):
    return {
        "event_id": f"e{n}",
        "external_id": f"c{n % 2}",
        "kind": "order.placed",
        "occurred_at": "2025-03-01T10:00:00+01:00",
        "payload": {"amount": 12.5, "items": n},
        **extra,
    }


# (record, status, a piece of the reason) for every way a record can be refused, each between good ones
BAD = [
    ("not a record", "rejected", "A record must be an object."),
    ({**_good(100), "colour": "red"}, "rejected", "Unknown field(s): colour"),
    ({**_good(101), "title": {"nested": 1}}, "rejected", "Unknown field(s): title"),
    ({**_good(102), "payload": [1, 2]}, "rejected", "Unknown field(s): payload"),
    ({**_good(103), "attributes": "x"}, "rejected", "Unknown field(s): attributes"),
    ({"external_id": "c1", "kind": "order.placed"}, "rejected", "event_id"),
    ({"external_id": "c1"}, "rejected", 'Column "kind, event_id": "" is required'),
    ({"event_id": "e105", "kind": "order.placed"}, "rejected", "No customer identifier"),
    ({**_good(106), "occurred_at": "gestern"}, "rejected", 'Column "occurred_at": "gestern"'),
    ({**_good(107), "channel": "pigeon"}, "rejected", 'Column "channel": "pigeon" is not one of'),
    ({**_good(108), "kind": "k" * 61}, "rejected", "is longer than 60 characters"),
    ({**_good(109), "email": "not-an-address"}, "rejected", 'Column "email": "not-an-address"'),
    (_good(1), "duplicate", "The same event appears earlier in this file."),
]


def test_bad_records_between_good_ones_are_reported_by_index_and_the_good_ones_land(api_source):
    _source, token = api_source
    records = []
    for n, (bad, _status, _reason) in enumerate(BAD):
        records += [_good(n), bad]
    body = _post(token, records).json()
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(records)))
    for n, (_bad, status, reason) in enumerate(BAD):
        good, bad = results[2 * n], results[2 * n + 1]
        assert (good["status"], good["reason"]) == ("accepted", "")
        assert bad["status"] == status and reason in bad["reason"], (n, bad)
    assert (body["accepted"], body["duplicate"], body["rejected"], body["suppressed"]) == (
        len(BAD),
        1,
        len(BAD) - 1,
        0,
    )
    events = TimelineEvent.objects.filter(idempotency_key__startswith="shop:")
    assert sorted(events.values_list("idempotency_key", flat=True)) == sorted(
        f"shop:e{n}" for n in range(len(BAD))
    )
    event = events.get(idempotency_key="shop:e3")
    assert (event.kind, event.title, event.channel, event.direction, event.department) == (
        "order.placed",
        "order.placed",
        "api",
        "inbound",
        "sales",
    )
    assert event.payload == {"amount": 12.5, "items": 3}
    assert event.occurred_at.isoformat() == "2025-03-01T09:00:00+00:00"
    assert event.actor_label == _source.name
    assert (event.source_id, event.source_url) == (str(_source.pk), "")
    assert Customer.objects.count() == 2
    assert set(
        CustomerIdentity.objects.filter(kind="external_id", source="shop").values_list("value", flat=True)
    ) == {"c0", "c1"}


def test_values_are_typed_as_in_a_file(api_source):
    """Numbers, booleans and nulls are read as their text; an id written as 17850.0 is 17850."""
    _source, token = api_source
    records = [
        {"event_id": 17850.0, "external_id": 42, "kind": "order.placed", "title": None, "summary": True},
        {"event_id": "e2", "external_id": "42", "kind": "order.placed", "title": "Order 2", "summary": False},
    ]
    body = _post(token, records).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted"]
    first = TimelineEvent.objects.get(idempotency_key="shop:17850")
    second = TimelineEvent.objects.get(idempotency_key="shop:e2")
    assert (first.title, first.summary, second.title, second.summary) == (
        "order.placed",
        "yes",
        "Order 2",
        "no",
    )
    assert first.customer_id == second.customer_id


def test_a_retried_batch_with_new_records_among_known_ones(api_source):
    """Known keys among new ones: the known are duplicates, the new ones land once."""
    _source, token = api_source
    assert _post(token, [_good(n) for n in range(0, 300, 2)]).json()["accepted"] == 150
    body = _post(token, [_good(n) for n in range(300)]).json()
    assert [r["status"] for r in body["results"]] == ["duplicate", "accepted"] * 150
    assert (body["accepted"], body["duplicate"]) == (150, 150)
    assert TimelineEvent.objects.filter(idempotency_key__startswith="shop:e").count() == 300


def test_every_changed_customer_is_announced_for_rescoring(api_source, django_capture_on_commit_callbacks):
    _source, token = api_source
    announced = []

    def receiver(sender, customer_ids=(), **kwargs):
        announced.append(sorted(customer_ids))

    timeline.customer_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _post(token, [_good(n, external_id=f"c{n % 5}") for n in range(20)])
        with django_capture_on_commit_callbacks(execute=True):
            _post(token, [_good(n, external_id=f"c{n % 5}") for n in range(20)])  # nothing new
    finally:
        timeline.customer_changed.disconnect(receiver)
    customers = sorted(
        CustomerIdentity.objects.filter(kind="external_id", source="shop").values_list(
            "customer_id", flat=True
        )
    )
    assert len(customers) == 5
    assert announced == [customers]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_eight_clients_posting_the_same_records_at_once_make_one_event_each(api_source):
    _source, token = api_source
    barrier = threading.Barrier(8)
    bodies, errors = [], []

    def send():
        try:
            barrier.wait()
            bodies.append(_post(token, [_good(n) for n in range(50)]).json())
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(body["accepted"] for body in bodies) == [0] * 7 + [50]
    assert sorted(body["duplicate"] for body in bodies) == [0] + [50] * 7
    assert TimelineEvent.objects.filter(idempotency_key__startswith="shop:e").count() == 50
    assert CustomerIdentity.objects.filter(kind="external_id", source="shop").count() == 2
