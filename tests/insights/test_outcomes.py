"""Scores the company's own history teaches: every eligible customer scored for every active action
and for churn and payment risk (independent of ranking and of the random hold-out), churn risk
learned from planted history ranks the planted churners first on a time-based hold-out, and the
models are calibrated (Brier score, reliability) and evaluated by ``outcome_evaluate``."""

import io
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.utils import timezone
from sklearn.metrics import roc_auc_score

from customer360 import scores
from customer360.models import Customer, Score
from insights import outcomes
from insights.coverage import coverage
from insights.engine import score_customers
from insights.models import Action, ContactPolicy, ModelVersion, Recommendation
from insights.services import scoring_run_inline
from tests.factories import CustomerFactory
from tests.insights.factories import event, history


@pytest.mark.django_db
def test_every_eligible_customer_gets_every_propensity_even_unranked_and_held_out():
    ContactPolicy.objects.update(holdout_share=1.0)  # everyone in the random hold-out: nothing ranked
    customers = CustomerFactory.create_batch(6)
    for c in customers:
        history(event(c, "contract.started", "sales", 100, contract_id=c.pk))
    score_customers([c.pk for c in customers])
    assert not Recommendation.objects.exists()
    stored = Score.objects.filter(kind__startswith=scores.PROPENSITY_PREFIX)
    expected = [
        a.key
        for a in Action.objects.filter(is_active=True, is_no_contact=False)
        if coverage([scores.propensity_kind(a.key)])[scores.propensity_kind(a.key)][0]
    ]
    assert expected, "some action must apply to current customers with a contract"
    for key in expected:
        kind = scores.propensity_kind(key)
        eligible, have = coverage([kind])[kind]
        assert have == eligible > 0, (kind, eligible, have)
    prior = stored.filter(kind=scores.propensity_kind(expected[0])).first()
    assert prior.model_version == "prior"  # no model yet: the action's prior, said so


@pytest.fixture
def demo_world(db, settings, tmp_path):
    """The demo with planted personas; seeding learns churn and payment risk and scores everyone."""
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("seed_demo", customers=400, seed=5, stdout=out)
    return out.getvalue()


def test_learned_risks_cover_everyone_and_rank_the_planted_churners_first(demo_world):
    assert "learned churn_risk v1, payment_risk v1" in demo_world
    churn = ModelVersion.objects.get(outcome=scores.CHURN_RISK, is_active=True)
    assert churn.action is None and churn.metrics["split"] == "time"
    assert churn.metrics["auc"] >= 0.75, churn.metrics
    assert churn.metrics["brier"] < churn.metrics["brier_baseline"]  # better than guessing the base rate
    assert "lifecycle" in churn.metrics["excluded"]  # today's lifecycle would tell who left
    # Payment risk is learned too; its hold-out (the newest invoices, a handful of them late) is too
    # small on a 400-customer demo for a stable AUC, so only its evaluation is checked here.
    payment = ModelVersion.objects.get(outcome=scores.PAYMENT_RISK, is_active=True)
    assert payment.metrics["split"] == "time" and payment.metrics["n_test"] > 0 and "brier" in payment.metrics
    # Coverage: after a scoring run (the demo's seeders after insights add history without announcing
    # it), every eligible customer has every kind (actions, churn and payment risk).
    scoring_run_inline()
    covered = coverage()
    assert {scores.CHURN_RISK, scores.PAYMENT_RISK} <= set(covered)
    for kind, (eligible, have) in covered.items():
        assert have == eligible, (kind, eligible, have)
    assert covered[scores.CHURN_RISK][0] > 300
    # The planted churners still on the books ("at risk") rank above the other current customers.
    rows = list(
        Score.objects.filter(kind=scores.CHURN_RISK).values_list("value", "customer__lifecycle", "reasons")
    )
    values = np.array([v for v, _l, _r in rows])
    planted = np.array([lifecycle == Customer.Lifecycle.AT_RISK for _v, lifecycle, _r in rows])
    assert planted.sum() >= 5
    assert roc_auc_score(planted, values) >= 0.75
    assert any(reasons for _v, lifecycle, reasons in rows if lifecycle == Customer.Lifecycle.AT_RISK)
    # The evaluation command (CI prints these lines): AUC, Brier and coverage.
    out = io.StringIO()
    call_command("outcome_evaluate", outcome=scores.CHURN_RISK, min_auc=0.75, stdout=out)
    text = out.getvalue()
    assert "outcome: churn_risk" in text and "split time" in text
    assert "AUC: " in text and "Brier: " in text and "reliability" in text
    assert "coverage: 100.0 %" in text
    assert "excluded columns: " in text and "lifecycle (excluded by the outcome)" in text


@pytest.mark.django_db
def test_churn_examples_are_time_aware():
    """A customer who cancelled 100 days ago is a positive at the snapshots whose horizon holds that
    day and absent from those after it; one who stayed is negative throughout."""
    from crm.models import Contract
    from tests.crm.factories import ProductFactory

    now = timezone.now()
    left, stayed = CustomerFactory.create_batch(2)
    Customer.objects.update(created_at=now - timedelta(days=900))
    Contract.objects.create(
        customer=left, product=ProductFactory(), start=(now - timedelta(days=600)).date(),
        status=Contract.Status.CANCELLED, cancelled_at=now - timedelta(days=100),
    )  # fmt: skip
    examples = outcomes.churn_examples(now)
    left_at = pd.Timestamp(now - timedelta(days=100))
    horizon = pd.Timedelta(days=outcomes.CHURN_HORIZON_DAYS)
    mine = examples[examples["customer_id"].eq(left.pk)].set_index("as_of")["label"]
    snapshots = sorted(set(examples["as_of"]))
    assert len(snapshots) == outcomes.CHURN_SNAPSHOTS
    for at in snapshots:
        if at >= left_at:
            assert at not in mine.index  # gone before the snapshot: not a customer to predict
        else:
            assert mine[at] == int(left_at <= at + horizon)
    assert mine.sum() >= 2 and (mine == 0).any()  # both kinds of snapshots are there
    assert (
        examples.loc[examples["customer_id"].eq(stayed.pk), "label"].tolist()
        == [0] * outcomes.CHURN_SNAPSHOTS
    )
