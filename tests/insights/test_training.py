"""Propensity models: labels, versioned atomic storage, retrain only on changed data, and the
real-data check on the bank marketing campaigns (AUC >= 0.78 without the call duration)."""

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from insights import bank_marketing
from insights.engine import score_customers
from insights.features import compute_features
from insights.models import Action, ActionRule, ContactPolicy, ModelVersion, Recommendation
from insights.training import fit_and_evaluate, train_action
from tests.conftest import shared_data
from tests.factories import CustomerFactory
from tests.insights.factories import event, history


@pytest.mark.django_db
def test_train_store_and_use_a_model(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    rng = np.random.default_rng(0)
    action = Action.objects.create(
        key="test_offer", name_en="Test", name_de="Test", department="sales", label_kind="call.logged",
        label_topic="t", label_positive="accepted", min_outcomes=50, validation="time", prior=0.2,
    )  # fmt: skip
    customers = CustomerFactory.create_batch(120)
    events = []
    for i, c in enumerate(customers):
        clicks = int(rng.integers(0, 4))
        events += [event(c, "email.clicked", "marketing", 10 + k, campaign="x") for k in range(clicks)]
        accepted = rng.random() < (0.15 + 0.25 * clicks)
        events.append(
            event(
                c,
                "call.logged",
                "sales",
                1 + i / 100,
                topic="t",
                outcome="accepted" if accepted else "declined",
            )
        )
    history(*events)
    version = train_action(action)
    assert version.version == 1 and version.n == 120 and default_storage.exists(version.path)
    assert version.path.startswith("models/test_offer-v1") and len(version.sha256) == 64
    assert (
        version.metrics["split"] in {"time", "stratified"}
        and "email_clicks_30" in version.metrics["features"]
    )
    assert len(version.metrics["calibration"]) == 10
    # Calibrated: the probabilities are measured (Brier) and mean what they say.
    assert version.metrics["calibration_method"] == "sigmoid"
    assert 0 < version.metrics["brier"] <= version.metrics["brier_baseline"] + 0.02
    assert train_action(action) is None  # nothing changed: no new version
    assert train_action(action, force=True).version == 2
    assert ModelVersion.objects.filter(action=action, is_active=True).count() == 1
    ContactPolicy.objects.update(holdout_share=0.0)
    score_customers([c.pk for c in customers[:5]])
    rec = Recommendation.objects.filter(action=action).first()
    assert rec is None or rec.model_version.version == 2  # a model-driven propensity, if eligible


@pytest.mark.django_db
def test_too_few_outcomes_use_prior_and_exploration():
    action = Action.objects.get(key="upsell")
    assert train_action(action) is None
    assert not ModelVersion.objects.filter(action=action).exists()


@pytest.mark.realdata
def test_bank_marketing_auc_without_duration():
    path = shared_data("bank_marketing", "bank-additional-full.csv")
    points, customers, counts, state, labels = bank_marketing.frames(path)
    assert "duration" not in {k for a in customers["attributes"].head(5) for k in a}
    frame = compute_features(points, customers, counts, state)
    _artifact, metrics = fit_and_evaluate(frame, labels, split="stratified")
    assert metrics["n"] == 41188
    assert metrics["auc"] >= 0.78, metrics
    assert not any("duration" in f for f in metrics["features"])


@pytest.mark.realdata
@pytest.mark.django_db
def test_bank_marketing_import_and_evaluate_command(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    # The data set's random 10 % sample: the full file's first 2,000 rows are its first weeks (May 2008)
    # with about 8 successes in a hold-out, where any AUC is noise; the sample's first 2,000 rows hold
    # about 45, so the command's AUC is worth checking.
    path = shared_data("bank_marketing", "bank-additional.csv")
    out = io.StringIO()
    call_command("nba_import_bank_marketing", path=str(path), limit=2000, stdout=out)
    call_command("nba_import_bank_marketing", path=str(path), limit=2000, stdout=out)  # idempotent
    assert "Imported 2000 customers and 0 new call events" in out.getvalue()
    action = Action.objects.get(key="term_deposit_offer")
    assert ActionRule.objects.filter(action=action).exists()
    out = io.StringIO()
    call_command("nba_evaluate", action="term_deposit_offer", min_auc=0.5, save=True, stdout=out)
    text = out.getvalue()
    assert "n: 2000" in text and "AUC: " in text and "Brier: " in text
    # The columns the model really left out, with why (duration never reaches the customers at all).
    excluded = next(line for line in text.splitlines() if line.startswith("excluded columns: "))
    assert "duration" not in text and "(not a model feature)" in excluded
    assert ModelVersion.objects.filter(action=action).count() == 1
