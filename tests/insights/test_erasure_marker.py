"""Issue #14: an erased person's anonymised events feed no training label, no feature row and no
recommendation. Insights reads the erasure marker from the core (``Customer.objects.erased()``)."""

from __future__ import annotations

import pytest

from customer360.models import Customer
from customer360.privacy.models import ErasureRequest
from insights.engine import score_customers
from insights.features import build_features
from insights.models import Action, ContactPolicy, Recommendation
from insights.training import training_examples
from tests.factories import CustomerFactory, UserFactory
from tests.insights.factories import event, gruber_history, history

pytestmark = pytest.mark.django_db


def _erased(customer) -> Customer:
    """The state an executed erasure leaves: the request on record, the row kept as a pseudonym."""
    first = UserFactory(username="admin-a", role="Admin")
    second = UserFactory(username="admin-b", role="Admin")
    ErasureRequest.objects.create(
        customer=customer, reason="letter", requested_by=first, approved_by=second, status="executed"
    )
    return customer


@pytest.fixture
def action():
    return Action.objects.create(
        key="test_offer", name_en="Test", name_de="Test", department="sales", label_kind="call.logged",
        label_topic="t", label_positive="accepted", min_outcomes=1, validation="time", prior=0.2,
    )  # fmt: skip


def test_the_core_marks_erased_customers(db):
    kept, gone = CustomerFactory(), CustomerFactory()
    _erased(gone)
    ErasureRequest.objects.create(  # a request not executed does not mark anybody
        customer=kept, reason="x", requested_by=UserFactory(username="admin-c", role="Admin")
    )
    assert list(Customer.objects.erased()) == [gone]
    assert gone not in Customer.objects.not_erased() and kept in Customer.objects.not_erased()


def test_erased_peoples_outcomes_are_no_training_labels(action):
    kept, gone = CustomerFactory(), CustomerFactory()
    history(
        *[event(c, "call.logged", "sales", 3, topic="t", outcome="accepted") for c in (kept, gone)],
        *[event(c, "call.logged", "sales", 2, topic="t", outcome="declined") for c in (kept, gone)],
    )
    assert set(training_examples(action)["customer_id"]) == {kept.pk, gone.pk}
    _erased(gone)
    examples = training_examples(action)
    assert set(examples["customer_id"]) == {kept.pk}
    assert sorted(examples["label"]) == [0, 1]


def test_erased_people_get_no_feature_row_and_no_recommendation(db):
    kept, gone = CustomerFactory(), CustomerFactory()
    gruber_history(kept)
    gruber_history(gone)
    _erased(gone)
    assert list(build_features([kept.pk, gone.pk]).index) == [kept.pk]
    assert list(build_features(id_range=(min(kept.pk, gone.pk), max(kept.pk, gone.pk))).index) == [kept.pk]
    ContactPolicy.objects.update(holdout_share=0.0)
    result = score_customers([kept.pk, gone.pk])
    assert result.customers == 1
    assert not Recommendation.objects.filter(customer=gone).exists()
