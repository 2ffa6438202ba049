"""Training whose memory does not grow with the number of customers: the point-in-time features are
built a chunk of customers at a time and equal those built in one piece, and the examples of a learned
outcome are capped by ``C360_TRAINING_MAX_EXAMPLES`` with a seeded sample stratified by label."""

from datetime import timedelta

import pandas as pd
import pytest
from django.utils import timezone

from crm.models import Contract
from customer360 import scores
from customer360.models import Customer
from insights import outcomes
from insights.features import build_features_at
from insights.models import ModelVersion
from tests.crm.factories import ProductFactory
from tests.factories import CustomerFactory
from tests.insights.factories import event, gruber_history, history

pytestmark = pytest.mark.django_db


def test_features_built_in_chunks_of_customers_equal_those_built_in_one_piece():
    now = timezone.now()
    people = CustomerFactory.create_batch(7)
    gruber_history(people[0], now)
    gruber_history(people[5], now)
    history(
        # consents only some chunks see: the column is False (no record) in the others
        event(people[3], "consent.given", "marketing", 30, now, channel="letter", purpose="surveys"),
        event(people[6], "ticket.opened", "service", 40, now, ticket_id=1, category="complaint"),
        event(people[1], "payment.received", "accounting", 20, now, invoice_id=4, amount=99),
    )
    # an attribute a number in most rows but text in one chunk: decided on all rows, as in one piece
    for i, person in enumerate(people):
        person.attributes = {"segment": "gold" if i == 2 else str(i), "score": i * 1.5}
        person.save(update_fields=["attributes"])
    points = pd.DataFrame(
        {
            "customer_id": [p.pk for p in people] * 2 + [people[0].pk],
            "as_of": [now - timedelta(days=5)] * 7 + [now - timedelta(days=35)] * 7 + [now],
        }
    ).sample(frac=1, random_state=3)  # points in no particular customer order
    whole = build_features_at(points)
    chunked = build_features_at(points, chunk=2)
    assert "consent_letter_surveys" in chunked.columns and chunked["consent_letter_surveys"].sum() == 1
    assert chunked["customer_id"].tolist() == points["customer_id"].tolist()
    pd.testing.assert_frame_equal(chunked, whole)


def _world(now, customers: int = 40, leavers: int = 15) -> None:
    """Customers since long ago; ``leavers`` of them cancelled a few days apart, 70 to 112 days ago."""
    people = CustomerFactory.create_batch(customers)
    Customer.objects.update(created_at=now - timedelta(days=900), lifecycle="customer")
    product = ProductFactory()
    for i, person in enumerate(people[:leavers]):
        Contract.objects.create(
            customer=person, product=product, start=(now - timedelta(days=600)).date(),
            status=Contract.Status.CANCELLED, cancelled_at=now - timedelta(days=70 + 3 * i),
        )  # fmt: skip


def test_a_capped_outcome_trains_on_a_stratified_sample_of_exactly_the_cap_the_same_each_time(
    settings, tmp_path, monkeypatch
):
    settings.VAR_DIR = tmp_path
    now = timezone.now()
    _world(now)
    settings.C360_TRAINING_MAX_EXAMPLES = 10**6
    everything = outcomes.churn_examples(now)
    population, positives = len(everything), int(everything["label"].sum())
    assert everything.attrs["population"] == population  # under the cap: every example
    settings.C360_TRAINING_MAX_EXAMPLES = 150
    assert population > 150 and positives >= 30
    sample = outcomes.churn_examples(now)
    assert len(sample) == 150 and sample.attrs["population"] == population
    # each label keeps its share of the population (rounded): the base rate stays true
    assert int(sample["label"].sum()) == round(150 * positives / population)
    assert sample["as_of"].is_monotonic_increasing  # still in time order, for the time-based hold-out
    # the sampled rows are real examples, and the same ones every time (a seeded sample)
    keys = ["customer_id", "as_of", "label"]
    assert len(sample.merge(everything, on=keys)) == 150
    pd.testing.assert_frame_equal(outcomes.churn_examples(now), sample)
    # history read a few customers at a time gives the very same sample
    monkeypatch.setattr(outcomes, "CUSTOMER_CHUNK", 7)
    pd.testing.assert_frame_equal(outcomes.churn_examples(now), sample)

    churn = outcomes.OUTCOMES[scores.CHURN_RISK]
    first = outcomes.train_outcome(churn, now=now)
    assert first.n == 150 and first.metrics["n"] == 150 and first.metrics["population"] == population
    assert first.metrics["positives"] == int(sample["label"].sum())
    # the same sample and features again: the data did not change, so no new version
    assert outcomes.train_outcome(churn, now=now) is None
    again = outcomes.train_outcome(churn, now=now, force=True)
    assert again.data_hash == first.data_hash and again.version == first.version + 1
    assert ModelVersion.objects.filter(outcome=scores.CHURN_RISK).count() == 2


def test_the_sample_is_the_same_whatever_the_order_and_chunks_of_the_examples():
    from insights.sampling import StratifiedSample

    at = pd.Timestamp("2026-01-01", tz="UTC")
    examples = pd.DataFrame(
        {
            "customer_id": range(1000),
            "as_of": [at + pd.Timedelta(days=i % 9) for i in range(1000)],
            "label": [int(i % 10 == 0) for i in range(1000)],
        }
    )
    one = StratifiedSample(101)
    one.add(examples)
    expected = one.result()
    assert len(expected) == 101 and int(expected["label"].sum()) == 10  # 10.1 of 101 positives
    assert expected.attrs["population"] == 1000
    shuffled = StratifiedSample(101)
    for part in range(0, 1000, 77):
        shuffled.add(examples.sample(frac=1, random_state=1).iloc[part : part + 77])
    pd.testing.assert_frame_equal(shuffled.result(), expected)
    other_seed = StratifiedSample(101, seed=1)
    other_seed.add(examples)
    assert not other_seed.result()["customer_id"].equals(expected["customer_id"])
