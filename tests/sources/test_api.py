"""Bulk ingestion API (source tokens) and signed webhooks."""

import json
import time

import pytest
from django.db import connection
from django.test import Client

from customer360.models import Customer, TimelineEvent
from customer360.sources import services
from customer360.sources.models import WebhookDelivery
from tests.sources.factories import DataSourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_source():
    source = DataSourceFactory(slug="shop", kind="api", target="events", department="sales")
    token = services.source_issue_token(source=source)
    return source, token


def _post(token, records, slug="shop"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(
        f"/api/sources/{slug}/records",
        json.dumps({"records": records}),
        content_type="application/json",
        **headers,
    )


def _event(n, **extra):
    return {
        "event_id": f"o-{n}",
        "external_id": f"cust-{n % 3}",
        "kind": "order.placed",
        "occurred_at": "2025-03-01 10:00",
        "payload": {"amount": 10.5},
        **extra,
    }


def test_token_is_stored_hashed_and_shown_once(api_source):
    source, token = api_source
    source.refresh_from_db()
    assert token not in (source.token_hash, source.token_hint) and len(source.token_hash) == 64
    assert source.token_hash == services.hash_token(token)


def test_missing_wrong_and_revoked_tokens_get_401(api_source):
    source, token = api_source
    assert _post(None, [_event(1)]).status_code == 401
    assert _post("c360_wrong", [_event(1)]).status_code == 401
    assert _post(token, [_event(1)], slug="other").status_code == 403  # a token only opens its own source
    services.source_revoke_token(source=source)
    assert _post(token, [_event(1)]).status_code == 401
    assert TimelineEvent.objects.count() == 0


def test_result_per_row_and_idempotent_by_external_id(api_source):
    _source, token = api_source
    records = [
        _event(1),
        _event(2),
        _event(1),
        {"event_id": "x", "kind": "order.placed"},
        {**_event(4), "colour": "red"},
        {**_event(5), "occurred_at": "gestern"},
    ]
    body = _post(token, records).json()
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "accepted",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert "No customer identifier" in body["results"][3]["reason"]
    assert "colour" in body["results"][4]["reason"]
    assert 'Column "occurred_at": "gestern"' in body["results"][5]["reason"]
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (2, 1, 3)
    event = TimelineEvent.objects.get(idempotency_key="shop:o-1")
    assert (event.kind, event.channel, event.payload) == ("order.placed", "api", {"amount": 10.5})
    again = _post(token, [_event(1), _event(2)]).json()
    assert (again["accepted"], again["duplicate"]) == (0, 2)
    assert TimelineEvent.objects.filter(idempotency_key__startswith="shop:").count() == 2
    assert Customer.objects.count() == 2


def test_event_id_is_required_and_more_than_10000_records_are_refused(api_source):
    _source, token = api_source
    body = _post(token, [{"external_id": "c1", "kind": "order.placed"}]).json()
    assert body["results"][0]["status"] == "rejected" and "event_id" in body["results"][0]["reason"]
    response = _post(token, [{}] * 10_001)
    assert response.status_code == 413 and "10000" in response.json()["detail"]


def test_a_large_request_in_constant_queries(api_source, django_assert_max_num_queries):
    _source, token = api_source
    records = [
        {"event_id": f"e{i}", "external_id": f"c{i % 500}", "kind": "order.placed"} for i in range(3_000)
    ]
    # SQLite splits bulk inserts by its 999-parameter limit; PostgreSQL needs a handful per batch.
    with django_assert_max_num_queries(40 if connection.vendor == "postgresql" else 400):
        body = _post(token, records).json()
    assert body["accepted"] == 3_000
    assert TimelineEvent.objects.filter(idempotency_key__startswith="shop:e").count() == 3_000


def test_throttled_per_source(api_source, settings):
    settings.C360_SOURCE_API_RATE = "2/min"
    from django.core.cache import cache

    cache.clear()
    _source, token = api_source
    other = DataSourceFactory(slug="shop2", kind="api", target="events")
    other_token = services.source_issue_token(source=other)
    assert [_post(token, [_event(i)]).status_code for i in range(3)] == [200, 200, 429]
    assert _post(other_token, [_event(9)], slug="shop2").status_code == 200


# --- Webhooks -----------------------------------------------------------------------------------
@pytest.fixture
def hook():
    source = DataSourceFactory(slug="newsletter", kind="webhook", target="events", department="marketing")
    secret = services.source_issue_webhook_secret(source=source)
    return source, secret


def _deliver(secret, body: bytes, timestamp=None, signature=None):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = signature or services.webhook_signature(secret, timestamp, body)
    return Client().post(
        "/api/sources/newsletter/webhook",
        body,
        content_type="application/json",
        HTTP_X_C360_TIMESTAMP=timestamp,
        HTTP_X_C360_SIGNATURE=signature,
    )


def _body():
    return json.dumps(
        {"records": [{"event_id": "m1", "email": "Anna@Example.at", "kind": "email.opened"}]}
    ).encode()


def test_signed_webhook_is_accepted_and_a_replay_rejected(hook):
    _source, secret = hook
    body = _body()
    timestamp = int(time.time())
    first = _deliver(secret, body, timestamp)
    assert first.status_code == 200 and first.json()["accepted"] == 1
    event = TimelineEvent.objects.get(idempotency_key="newsletter:m1")
    assert (event.department, event.customer.email) == ("marketing", "anna@example.at")
    replay = _deliver(secret, body, timestamp)
    assert replay.status_code == 409 and "replay" in replay.json()["detail"]


def test_wrong_signature_gets_401_and_nothing_is_stored(hook):
    _source, secret = hook
    response = _deliver(secret, _body(), signature="0" * 64)
    assert response.status_code == 401 and "signature" in response.json()["detail"]
    tampered = _deliver(
        secret, _body(), signature=services.webhook_signature(secret, str(int(time.time())), b"{}")
    )
    assert tampered.status_code == 401
    assert (TimelineEvent.objects.count(), Customer.objects.count(), WebhookDelivery.objects.count()) == (
        0,
        0,
        0,
    )


def test_stale_timestamp_is_rejected(hook):
    _source, secret = hook
    response = _deliver(secret, _body(), timestamp=int(time.time()) - 301)
    assert response.status_code == 401 and "5 minutes" in response.json()["detail"]
    assert TimelineEvent.objects.count() == 0
