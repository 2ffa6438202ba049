"""Webhooks and the bulk API under abuse: body size, throttles per IP and per source, retries.

The order a webhook is checked in: size (Content-Length, unread) -> rate per client IP ->
signature -> rate per source -> records and delivery in one transaction.
"""

import io
import json
import threading
import time

import pytest
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client

from customer360.models import Customer, TimelineEvent
from customer360.sources import services
from customer360.sources.api.views import PayloadTooLarge, RawBodyParser
from customer360.sources.models import WebhookDelivery
from tests.sources.factories import DataSourceFactory

pytestmark = pytest.mark.django_db

SIXTY_MB = 60 * 1024 * 1024
ATTACKER = "203.0.113.9"
SENDER = "198.51.100.7"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hook():
    source = DataSourceFactory(slug="newsletter", kind="webhook", target="events", department="marketing")
    return source, services.source_issue_webhook_secret(source=source)


def _record(event_id="m1", email="anna@example.at"):
    return {"event_id": event_id, "email": email, "kind": "email.opened"}


def _body(*records) -> bytes:
    return json.dumps({"records": list(records or [_record()])}).encode()


def _deliver(secret, body: bytes, *, ip=SENDER, timestamp=None, signature=None, client=None, **extra):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = signature or services.webhook_signature(secret, timestamp, body)
    return (client or Client()).post(
        "/api/sources/newsletter/webhook",
        body,
        content_type="application/json",
        REMOTE_ADDR=ip,
        HTTP_X_C360_TIMESTAMP=timestamp,
        HTTP_X_C360_SIGNATURE=signature,
        **extra,
    )


class Unreadable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def read(self, size=-1):
        raise AssertionError("the body was read")

    readline = read


# --- Size ---------------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_refused_before_it_is_read(hook, django_assert_num_queries):
    _source, secret = hook
    with django_assert_num_queries(0):  # not even the source is looked up
        response = _deliver(secret, b"", CONTENT_LENGTH=str(SIXTY_MB), **{"wsgi.input": Unreadable()})
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"The request body is {SIXTY_MB} bytes; the limit is {10 * 1024 * 1024} bytes."
    }
    assert WebhookDelivery.objects.count() == 0


def test_the_limit_comes_from_settings(hook, settings):
    settings.C360_WEBHOOK_MAX_BYTES = 100
    _source, secret = hook
    too_big = _body(_record(email="a" * 100 + "@example.at"))
    assert _deliver(secret, too_big).status_code == 413
    assert (
        _deliver(secret, b'{"event_id": "m1", "email": "a@b.at", "kind": "email.opened"}').status_code == 200
    )


def test_a_chunked_body_without_content_length_is_refused_unread(hook):
    _source, secret = hook
    response = _deliver(
        secret, b"", HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="", **{"wsgi.input": Unreadable()}
    )
    assert response.status_code == 411 and "Content-Length" in response.json()["detail"]


def test_the_raw_body_is_read_with_a_bound(settings):
    """Whatever the headers said, the parser reads at most limit + 1 bytes."""
    settings.C360_WEBHOOK_MAX_BYTES = 1000
    stream = io.BytesIO(b"x" * 5000)
    with pytest.raises(PayloadTooLarge):
        RawBodyParser().parse(stream)
    assert stream.tell() == 1001
    assert RawBodyParser().parse(io.BytesIO(b"y" * 1000)) == b"y" * 1000


def test_bulk_api_refuses_a_body_over_djangos_limit_unread(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    source = DataSourceFactory(slug="shop", kind="api", target="events")
    token = services.source_issue_token(source=source)
    response = Client().post(
        "/api/sources/shop/records",
        b"",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        CONTENT_LENGTH=str(SIXTY_MB),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413 and str(1024 * 1024) in response.json()["detail"]


# --- Throttles ----------------------------------------------------------------------------------
def test_unsigned_flood_from_one_ip_does_not_stop_a_signed_delivery_from_another(hook, settings):
    settings.C360_WEBHOOK_IP_RATE = "100/min"
    settings.C360_SOURCE_API_RATE = "2/min"  # an unsigned request counted per source would block it
    _source, secret = hook
    codes = [_deliver(secret, _body(), ip=ATTACKER, signature="0" * 64).status_code for _ in range(125)]
    assert codes == [401] * 100 + [429] * 25
    refused = _deliver(secret, _body(), ip=ATTACKER)  # even signed: that IP is over its rate
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    delivered = _deliver(secret, _body(), ip=SENDER)
    assert delivered.status_code == 200 and delivered.json()["accepted"] == 1
    assert TimelineEvent.objects.filter(idempotency_key="newsletter:m1").count() == 1


def test_per_source_rate_counts_only_verified_deliveries(hook, settings):
    settings.C360_SOURCE_API_RATE = "2/min"
    _source, secret = hook
    for _ in range(5):
        assert _deliver(secret, _body(), signature="f" * 64).status_code == 401
    codes = [_deliver(secret, _body(_record(f"m{i}"))).status_code for i in range(3)]
    assert codes == [200, 200, 429]
    assert TimelineEvent.objects.count() == 2


def test_a_forged_forwarded_for_does_not_evade_the_ip_rate(hook, settings):
    settings.C360_WEBHOOK_IP_RATE = "3/min"
    _source, secret = hook
    codes = [
        _deliver(
            secret, _body(), ip=ATTACKER, signature="0" * 64, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}"
        ).status_code
        for i in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429]


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(hook, settings):
    settings.C360_WEBHOOK_IP_RATE = "2/min"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    _source, secret = hook
    proxy = "10.0.0.1"

    def via_proxy(client_ip):
        return _deliver(
            secret, _body(), ip=proxy, signature="0" * 64, HTTP_X_FORWARDED_FOR=f"1.2.3.4, {client_ip}"
        ).status_code

    assert [via_proxy(ATTACKER) for _ in range(3)] == [401, 401, 429]
    assert via_proxy(SENDER) == 401  # another client behind the same proxy has its own count


def test_bulk_api_still_throttles_per_source_token(settings):
    settings.C360_SOURCE_API_RATE = "2/min"
    source = DataSourceFactory(slug="shop", kind="api", target="events")
    token = services.source_issue_token(source=source)

    def post(auth):
        return (
            Client()
            .post(
                "/api/sources/shop/records",
                json.dumps({"records": [{"event_id": "o1", "external_id": "c1", "kind": "order.placed"}]}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {auth}",
            )
            .status_code
        )

    assert [post("c360_wrong") for _ in range(3)] == [401, 401, 401]  # strangers use up nothing
    assert [post(token) for _ in range(3)] == [200, 200, 429]


# --- Delivery and ingest in one transaction -----------------------------------------------------
def test_a_failed_ingest_can_be_retried_and_its_records_land_once(hook, monkeypatch):
    _source, secret = hook
    real_ingest = services.records_ingest
    calls = []

    def ingest_then_crash_once(**kwargs):
        results = real_ingest(**kwargs)  # the records are written ...
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("worker killed")  # ... and then the request dies
        return results

    monkeypatch.setattr(services, "records_ingest", ingest_then_crash_once)
    body, timestamp = _body(_record("m1"), _record("m2", "ben@example.at")), int(time.time())
    failed = _deliver(secret, body, timestamp=timestamp, client=Client(raise_request_exception=False))
    assert failed.status_code == 500
    assert (TimelineEvent.objects.count(), Customer.objects.count(), WebhookDelivery.objects.count()) == (
        0,
        0,
        0,
    )

    retry = _deliver(secret, body, timestamp=timestamp)
    assert retry.status_code == 200 and (retry.json()["accepted"], retry.json()["duplicate"]) == (2, 0)
    keys = sorted(TimelineEvent.objects.values_list("idempotency_key", flat=True))
    assert keys == ["newsletter:m1", "newsletter:m2"]
    assert (Customer.objects.count(), WebhookDelivery.objects.count()) == (2, 1)


def test_a_replayed_successful_delivery_is_a_duplicate_and_writes_nothing(hook, monkeypatch):
    _source, secret = hook
    body, timestamp = _body(), int(time.time())
    assert _deliver(secret, body, timestamp=timestamp).status_code == 200
    before = (TimelineEvent.objects.count(), Customer.objects.count(), WebhookDelivery.objects.count())
    assert before == (1, 1, 1)
    ingested = []
    monkeypatch.setattr(services, "records_ingest", lambda **kwargs: ingested.append(kwargs) or [])
    replay = _deliver(secret, body, timestamp=timestamp, ip=ATTACKER)
    assert replay.status_code == 409 and "replay" in replay.json()["detail"]
    assert ingested == []
    assert (
        TimelineEvent.objects.count(),
        Customer.objects.count(),
        WebhookDelivery.objects.count(),
    ) == before


def test_the_refusal_speaks_the_senders_language(hook):
    _source, secret = hook
    response = _deliver(
        secret,
        b"",
        CONTENT_LENGTH=str(SIXTY_MB),
        HTTP_ACCEPT_LANGUAGE="de",
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert response.json()["detail"].startswith(f"Der Anfrageinhalt hat {SIXTY_MB} Bytes")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("first_fails", "expected"), [(False, [200, 409]), (True, [200, 500])])
def test_two_copies_of_one_delivery_at_once_land_once(hook, monkeypatch, first_fails, expected):
    """The second copy waits on the first one's delivery row: 409 if the first commits; if the first
    fails, the second goes through (a sender's quick retry is not lost)."""
    _source, secret = hook
    real_ingest = services.records_ingest
    started = threading.Event()
    order: list[str] = []

    def slow_ingest(**kwargs):
        first = not started.is_set()
        started.set()
        results = real_ingest(**kwargs)
        if first:
            time.sleep(0.5)  # the second copy arrives while this transaction is open
            order.append("first done")
            if first_fails:
                raise RuntimeError("worker killed")
        return results

    monkeypatch.setattr(services, "records_ingest", slow_ingest)
    body, timestamp = _body(), int(time.time())
    codes: list[int] = []

    def send(delay):
        try:
            time.sleep(delay)
            client = Client(raise_request_exception=False)
            codes.append(_deliver(secret, body, timestamp=timestamp, client=client).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(delay,)) for delay in (0, 0.2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == expected
    assert order == ["first done"]
    assert TimelineEvent.objects.filter(idempotency_key="newsletter:m1").count() == 1
    assert WebhookDelivery.objects.count() == 1
