"""Feedback from reps: timeline events, labels, cool-down, expiry; and the rescoring hook."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone

from customer360 import timeline
from customer360.models import TimelineEvent
from insights import services
from insights.engine import score_customers
from insights.models import Action, ContactPolicy, Recommendation
from insights.training import training_examples
from tests.insights.factories import gruber_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(customer):
    ContactPolicy.objects.update(holdout_share=0.0)
    gruber_history(customer)
    score_customers([customer.pk])
    return customer


def _top(customer):
    return Recommendation.objects.filter(customer=customer, status="open").order_by("rank").first()


def test_accept_then_complete_records_events_and_a_label(scored, rep, django_capture_on_commit_callbacks):
    rec = _top(scored)
    with django_capture_on_commit_callbacks(execute=False):
        services.recommendation_accept(recommendation_id=rec.pk, user=rep)
        services.recommendation_complete(recommendation_id=rec.pk, user=rep, outcome="success")
    rec.refresh_from_db()
    assert rec.status == "completed" and rec.outcome == "success" and rec.decided_by == rep
    kinds = list(
        TimelineEvent.objects.filter(customer=scored, kind__startswith="nba.").values_list("kind", flat=True)
    )
    assert sorted(kinds) == ["nba.accepted", "nba.completed"]
    examples = training_examples(rec.action)
    assert examples[["customer_id", "label"]].values.tolist() == [[scored.pk, 1]]


def test_dismissal_rests_the_action_for_the_cooldown(scored, rep):
    rec = _top(scored)
    services.recommendation_dismiss(recommendation_id=rec.pk, user=rep, reason="declined")
    assert TimelineEvent.objects.filter(customer=scored, kind="nba.dismissed").count() == 1
    score_customers([scored.pk])
    assert rec.action_id not in Recommendation.objects.filter(customer=scored, status="open").values_list(
        "action_id", flat=True
    )
    assert training_examples(rec.action)["label"].tolist() == [0]
    # after the cool-down it may come back
    later = timezone.now() + timedelta(days=ContactPolicy.current().cooldown_days + 1)
    score_customers([scored.pk], now=later)
    assert Recommendation.objects.filter(customer=scored, status="open", action=rec.action).exists()


def test_feedback_twice_is_refused(scored, rep):
    rec = _top(scored)
    services.recommendation_dismiss(recommendation_id=rec.pk, user=rep, reason="bad_timing")
    with pytest.raises(services.FeedbackError):
        services.recommendation_accept(recommendation_id=rec.pk, user=rep)
    with pytest.raises(services.FeedbackError):
        services.recommendation_dismiss(recommendation_id=rec.pk, user=rep, reason="nonsense")


def test_open_recommendations_expire(scored):
    days = ContactPolicy.current().expiry_days
    assert services.recommendations_expire(now=timezone.now() + timedelta(days=days - 1)) == 0
    assert services.recommendations_expire(now=timezone.now() + timedelta(days=days + 1)) == 3
    assert not Recommendation.objects.filter(customer=scored, status="open").exists()


def test_offer_cap_counts_accepted_offers(customer, rep):
    ContactPolicy.objects.update(holdout_share=0.0, max_offers=1)
    offer = Action.objects.get(key="cross_sell")
    Recommendation.objects.create(
        customer=customer, action=offer, status="accepted", decided_at=timezone.now() - timedelta(days=3)
    )
    from insights.features import build_features

    assert build_features([customer.pk])["offers_in_period"].tolist() == [1]


def test_two_changes_enqueue_one_debounced_rescoring(customer):
    cache.clear()
    with mock.patch("insights.tasks.rescore_customer.apply_async") as enqueue:
        timeline.customer_changed.send(sender=None, customer_ids=[customer.pk])
        timeline.customer_changed.send(sender=None, customer_ids=[customer.pk])
    enqueue.assert_called_once_with(args=[customer.pk], countdown=services.DEBOUNCE_SECONDS)
    # once the task runs, the mark is cleared and the next change enqueues again
    services.customers_rescore(customer_ids=[customer.pk])
    with mock.patch("insights.tasks.rescore_customer.apply_async") as enqueue:
        timeline.customer_changed.send(sender=None, customer_ids=[customer.pk])
    assert enqueue.call_count == 1


def test_recording_an_event_wakes_the_engine(customer, django_capture_on_commit_callbacks):
    cache.clear()
    with (
        mock.patch("insights.tasks.rescore_customer.apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        timeline.record(
            customer=customer,
            department="accounting",
            kind="payment.received",
            title="paid",
            idempotency_key="pay-1",
        )
    enqueue.assert_called_once()


def test_many_customers_are_enqueued_in_chunks():
    cache.clear()
    with mock.patch("insights.tasks.rescore_customers.apply_async") as enqueue:
        assert services.customers_rescore_request(customer_ids=range(1, 4501)) == 4500
    assert enqueue.call_count == 3
