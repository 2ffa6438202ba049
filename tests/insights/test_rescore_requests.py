"""Rescoring requests through Redis (one pending set, one drain task per debounce window), the
per-process catalogue cache, and the PostgreSQL write path of the engine."""

import os
import uuid
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from customer360 import timeline
from insights import engine, services
from insights.engine import cached_catalogue, score_customers
from insights.models import Action, ContactPolicy, CustomerScore, Recommendation
from tests.factories import CustomerFactory
from tests.insights.factories import gruber_history

pytestmark = pytest.mark.django_db

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or "RedisCache" not in settings.CACHES["default"]["BACKEND"],
    reason="needs REDIS_URL (the Redis cache)",
)


@pytest.fixture
def redis_client():
    client = services._redis()
    keys = [cache.make_key(services.PENDING_SET), cache.make_key(services.DRAIN_FLAG)]
    client.delete(*keys)
    yield client
    client.delete(*keys)
    for key in client.scan_iter(cache.make_key(f"{services.PENDING_SET}:claim:*")):
        client.delete(key)


def _pending(client) -> set[int]:
    return {int(m) for m in client.smembers(cache.make_key(services.PENDING_SET))}


@needs_redis
def test_one_drain_task_per_window_whatever_the_number_of_customers(redis_client):
    with mock.patch("insights.tasks.rescore_pending.apply_async") as drain:
        assert services.customers_rescore_request(customer_ids=range(1, 5001)) == 5000
        timeline.customer_changed.send(sender=None, customer_ids=[3, 7, 6000])
    drain.assert_called_once_with(countdown=services.DEBOUNCE_SECONDS)
    assert _pending(redis_client) == set(range(1, 5001)) | {6000}  # at most once per customer


@needs_redis
def test_drain_scores_the_pending_customers_and_the_next_change_queues_again(redis_client):
    ContactPolicy.objects.update(holdout_share=0.0)
    customers = CustomerFactory.create_batch(3)
    gruber_history(customers[0])
    ids = [c.pk for c in customers]
    with mock.patch("insights.tasks.rescore_pending.apply_async") as drain:
        services.customers_rescore_request(customer_ids=ids)
        assert services.pending_rescore_drain(claim="t1") == 3
        assert _pending(redis_client) == set()
        assert set(CustomerScore.objects.values_list("customer_id", flat=True)) == set(ids)
        assert Recommendation.objects.filter(customer=customers[0], status="open").count() == 3
        # the flag went with the drain: a change after it queues a new drain
        services.customers_rescore_request(customer_ids=[ids[1]])
    assert drain.call_count == 2
    assert _pending(redis_client) == {ids[1]}


@needs_redis
def test_a_redelivered_drain_scores_its_claim_again(redis_client):
    """A worker killed mid-drain: the claim stays; the same task id finds and scores it again."""
    customer = CustomerFactory()
    with mock.patch("insights.tasks.rescore_pending.apply_async"):
        services.customers_rescore_request(customer_ids=[customer.pk])
    claim = uuid.uuid4().hex
    with (
        mock.patch("insights.engine.score_customers", side_effect=RuntimeError("worker died")),
        pytest.raises(RuntimeError),
    ):
        services.pending_rescore_drain(claim=claim)
    assert not CustomerScore.objects.filter(customer=customer).exists()
    with mock.patch("insights.tasks.rescore_pending.apply_async"):
        services.customers_rescore_request(customer_ids=[customer.pk + 1000])  # a newer change
    assert services.pending_rescore_drain(claim=claim) == 1  # only its own claim
    assert CustomerScore.objects.filter(customer=customer).exists()
    assert _pending(redis_client) == {customer.pk + 1000}


@needs_redis
def test_many_pending_customers_are_handed_on_in_chunks(redis_client):
    with mock.patch("insights.tasks.rescore_pending.apply_async"):
        services.customers_rescore_request(customer_ids=range(1, 4501))
    with mock.patch("insights.tasks.rescore_customers.apply_async") as chunk:
        assert services.pending_rescore_drain(claim="big") == 4500
    assert [len(c.kwargs["args"][0]) for c in chunk.call_args_list] == [2000, 2000, 500]


def test_catalogue_is_cached_per_process_until_something_changes(django_capture_on_commit_callbacks):
    first = cached_catalogue()
    assert cached_catalogue() is first
    with django_capture_on_commit_callbacks(execute=True):
        action = Action.objects.get(key="upsell")
        action.lever = 2.0
        action.save()
    second = cached_catalogue()
    assert second is not first
    assert next(e.action.lever for e in second.entries if e.action.key == "upsell") == 2.0
    with mock.patch.object(engine, "CATALOGUE_MAX_AGE", 0.0):
        assert cached_catalogue() is not second  # edits without a signal are picked up by age


def test_rescoring_keeps_first_seen_and_replaces_scores(customer):
    """Whatever the write path (COPY on PostgreSQL, the ORM elsewhere): same rows, same first-seen."""
    ContactPolicy.objects.update(holdout_share=0.0)
    gruber_history(customer)
    other = CustomerFactory()
    first = score_customers([customer.pk, other.pk])
    created = dict(
        Recommendation.objects.filter(customer=customer, status="open").values_list("action_id", "created_at")
    )
    second = score_customers(id_range=(min(customer.pk, other.pk), max(customer.pk, other.pk)))
    assert first.customers == second.customers == 2
    assert first.recommendations == second.recommendations
    again = dict(
        Recommendation.objects.filter(customer=customer, status="open").values_list("action_id", "created_at")
    )
    assert again == created
    assert CustomerScore.objects.filter(customer_id__in=[customer.pk, other.pk]).count() == 2
    rec = Recommendation.objects.filter(customer=customer, status="open").order_by("rank").first()
    assert rec.reason_texts("en") and rec.status == "open" and rec.note == ""
    assert connection.vendor in ("postgresql", "sqlite")
