"""Outages degrade instead of failing (fast tests; the real outages are in test_fault_*.py)."""

from __future__ import annotations

import json
import socket

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory, override_settings
from redis.exceptions import ConnectionError as RedisConnectionError

from customer360 import outbox, timeline
from customer360.cache import DegradingRedisCache
from customer360.celery import app
from customer360.models import PendingChange, TimelineEvent
from customer360.outage import DatabaseOutageMiddleware, server_error
from customer360.tasks import announce_pending_changes


def _closed_port() -> int:
    """A loopback port nobody listens on: Redis "down"."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_redis():
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    DegradingRedisCache._down_until = 0.0
    yield url
    DegradingRedisCache._down_until = 0.0


def test_every_task_ends_before_the_broker_would_deliver_it_again():
    app.loader.import_default_modules()
    visibility = settings.C360_VISIBILITY_TIMEOUT
    limits = {}
    for name, task in app.tasks.items():
        if name.startswith("celery."):
            continue
        limits[name] = task.time_limit or settings.CELERY_TASK_TIME_LIMIT
    assert limits, "no tasks registered"
    too_long = {name: limit for name, limit in limits.items() if limit >= visibility}
    assert too_long == {}, f"time limits at or above the visibility timeout {visibility}: {too_long}"
    assert max(limits.values()) <= settings.C360_LONG_TASK_TIME_LIMIT < 3600
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1


def test_the_cache_reads_a_miss_while_redis_is_down(dead_redis):
    cache = DegradingRedisCache(dead_redis, {"OPTIONS": {"socket_connect_timeout": 0.5}})
    assert cache.get("k", "fallback") == "fallback"
    assert cache.add("k", 1) is False
    cache.set("k", 1)
    assert cache.get_many(["a", "b"]) == {}
    assert cache.get_or_set("k", 7) == 7
    with pytest.raises(ValueError):
        cache.incr("k")


@pytest.mark.django_db
def test_health_answers_503_and_names_redis(client, dead_redis):
    with override_settings(REDIS_URL=dead_redis, CELERY_BROKER_URL=dead_redis):
        response = client.get("/health/?format=json")
    assert response.status_code == 503
    assert response["Retry-After"]
    body = response.json()
    assert body["checks"]["redis"] == {"ok": False, "detail": "Redis unreachable (ConnectionError)"}
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.parametrize("error", [OperationalError("terminating connection"), InterfaceError("closed")])
@pytest.mark.parametrize("path", ["/customers/", "/api/sources/x/records"])
def test_a_database_outage_is_a_503_with_retry_after(error, path):
    request = RequestFactory().get(path)
    response = DatabaseOutageMiddleware(lambda r: None).process_exception(request, error)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    try:
        raise error
    except type(error):
        outside_a_view = server_error(request)
    assert outside_a_view.status_code == 503
    assert outside_a_view["Retry-After"] == "5"
    if path.startswith("/api/"):
        assert "restarting or unreachable" in json.loads(response.content)["detail"]


def test_any_other_error_stays_a_500():
    request = RequestFactory().get("/customers/")
    assert DatabaseOutageMiddleware(lambda r: None).process_exception(request, KeyError("x")) is None
    try:
        raise KeyError("x")
    except KeyError:
        assert server_error(request).status_code == 500


@pytest.mark.django_db(transaction=True)
def test_a_change_announced_while_the_broker_is_down_is_kept_and_announced_later(customer):
    """The broker is the outside boundary here: a receiver that cannot reach Redis."""
    delivered: list[list[int]] = []

    def unreachable(sender, customer_ids=(), **kwargs):
        raise RedisConnectionError("Connection refused")

    def reachable(sender, customer_ids=(), **kwargs):
        delivered.append(list(customer_ids))

    receivers = timeline.customer_changed.receivers[:]
    timeline.customer_changed.receivers.clear()
    timeline.customer_changed.sender_receivers_cache.clear()
    outbox._broken_until = 0.0
    try:
        timeline.customer_changed.connect(unreachable, weak=False)
        event, created = timeline.record(
            customer=customer,
            department="sales",
            kind="call.logged",
            title="Call",
            idempotency_key="outbox:1",
        )
        assert created and TimelineEvent.objects.filter(pk=event.pk).exists()
        assert list(PendingChange.objects.values_list("customer_id", flat=True)) == [customer.pk]
        # Still down: the beat task leaves the row for the next tick.
        with pytest.raises(RedisConnectionError):
            announce_pending_changes()
        assert PendingChange.objects.count() == 1
        timeline.customer_changed.disconnect(unreachable)
        timeline.customer_changed.connect(reachable, weak=False)
        assert announce_pending_changes() == 1
        assert delivered == [[customer.pk]]
        assert PendingChange.objects.count() == 0
    finally:
        timeline.customer_changed.receivers[:] = receivers
        timeline.customer_changed.sender_receivers_cache.clear()
        outbox._broken_until = 0.0
