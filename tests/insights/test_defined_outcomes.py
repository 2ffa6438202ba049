"""Outcomes and actions defined in the app by an admin (issue #20, build 5): an outcome from an
imported attribute or an event kind, evaluated on a time-aware hold-out in the worker before it is
activated, then scored for every current customer; actions created with a safe default eligibility;
propensity conditions per action for segments, rules and the customer list."""

import io

import numpy as np
import pytest
from django.core.management import call_command

from customer360 import scores
from customer360.celery import app as celery_app
from customer360.conditions import to_q
from customer360.models import Customer, Job, Score
from customer360.registry import conditions
from insights import outcomes, score_conditions
from insights.coverage import coverage
from insights.engine import score_customers
from insights.models import Action, ActionRule, ModelVersion, OutcomeDefinition
from tests.conftest import client_for
from tests.factories import CustomerFactory
from tests.insights.factories import event, history


@pytest.fixture
def eager(django_capture_on_commit_callbacks):
    """``post(client, path, data)``: the tasks a request queues run when it commits, at once (as a
    worker would pick them up)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True

    def post(client, path, data=None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data or {})

    yield post
    celery_app.conf.task_always_eager = before


def _bank(n: int = 160, seed: int = 1) -> list[Customer]:
    """Customers with imported attributes: a numeric and a categorical one that predict "bought"."""
    rng = np.random.default_rng(seed)
    people = []
    for i in range(n):
        balance = float(rng.normal(0, 1))
        segment = ["a", "b", "c"][i % 3]
        chance = 1 / (1 + np.exp(-(2.5 * balance + (1.0 if segment == "a" else -0.5))))
        bought = "yes" if rng.random() < chance else "no"
        people.append(
            CustomerFactory(
                lifecycle="customer",
                attributes={
                    "balance": round(balance, 3),
                    "segment": segment,
                    "bought": bought,
                    "noise": i % 7,
                },
            )
        )
    return people


def _define(client, **overrides):
    data = {
        "key": "bought_deposit",
        "name_en": "Buys a deposit",
        "name_de": "Schließt eine Einlage ab",
        "success": "attribute",
        "event_kind": "",
        "horizon_days": "90",
        "attribute": "bought",
        "attribute_values": "yes",
        "features": ["attr_balance", "attr_segment"],
        **overrides,
    }
    return client.post("/insights/outcomes/new/", data)


@pytest.mark.django_db
def test_admin_defines_an_attribute_outcome_sees_the_evaluation_then_activates_it(
    admin_user, eager, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    people = _bank()
    client = client_for(admin_user)
    page = client.get("/insights/outcomes/new/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'value="attr_balance"' in text and 'value="attr_segment"' in text  # imported attributes offered
    assert 'value="bought"' in text  # as the success attribute too
    answer = _define(client)
    definition = OutcomeDefinition.objects.get(key="bought_deposit")
    assert answer.status_code == 302 and answer["Location"] == f"/insights/outcomes/{definition.pk}/"
    assert not definition.is_active and definition.features == ["attr_balance", "attr_segment"]

    # Activating before an evaluation is refused with a reason; nothing is scored.
    refused = client.post(f"/insights/outcomes/{definition.pk}/activate/")
    assert refused["Location"].endswith("?error=evaluate")
    assert "Evaluate the outcome before activating it." in client.get(refused["Location"]).content.decode()

    assert eager(client, f"/insights/outcomes/{definition.pk}/evaluate/").status_code == 302
    definition.refresh_from_db()
    job = Job.objects.get(pk=definition.job_id)
    assert (job.status, job.done, job.total) == ("done", 4, 4)
    version = definition.evaluated_version
    assert version.outcome == "outcome:bought_deposit" and not version.is_active
    metrics = version.metrics
    assert metrics["n"] == len(people) and metrics["split"] == "time"
    assert metrics["auc"] >= 0.75, metrics
    assert set(metrics["features"]) == {"attr_balance", "attr_segment"}
    # The label never feeds its own model; what was not picked is left out, and said so.
    assert metrics["excluded"]["attr_bought"] == "excluded by the outcome"
    assert metrics["excluded"]["attr_noise"] == "not picked"
    page = client.get(f"/insights/outcomes/{definition.pk}/").content.decode()
    assert 'data-metric="auc"' in page and f"{metrics['auc']:.3f}" in page
    assert "Top drivers (permutation importance)" in page and 'id="activate-outcome"' in page
    assert not Score.objects.filter(kind="outcome:bought_deposit").exists()  # seen before it scores

    eager(client, f"/insights/outcomes/{definition.pk}/activate/")
    definition.refresh_from_db()
    version.refresh_from_db()
    assert definition.is_active and version.is_active
    eligible, scored = coverage(["outcome:bought_deposit"])["outcome:bought_deposit"]
    assert eligible == len(people) and scored == eligible
    stored = dict(Score.objects.filter(kind="outcome:bought_deposit").values_list("customer_id", "value"))
    high = [stored[c.pk] for c in people if c.attributes["balance"] > 1]
    low = [stored[c.pk] for c in people if c.attributes["balance"] < -1]
    assert np.mean(high) > np.mean(low) + 0.3
    # The nightly training includes it (rescored on the beat schedule like churn risk).
    from insights.services import outcomes_to_train

    assert "outcome:bought_deposit" in outcomes_to_train()

    # outcome_evaluate prints its figures, with the coverage of the stored scores.
    out = io.StringIO()
    call_command("outcome_evaluate", outcome="bought_deposit", stdout=out)
    printed = out.getvalue()
    assert "outcome: bought_deposit" in printed and "AUC: " in printed
    assert f"coverage: 100.0 % ({len(people)} of {len(people)} eligible customers" in printed
    assert "attr_bought (excluded by the outcome)" in printed

    client.post(f"/insights/outcomes/{definition.pk}/activate/", {"active": "0"})
    definition.refresh_from_db()
    assert (
        not definition.is_active
        and not ModelVersion.objects.filter(outcome=definition.score_kind, is_active=True).exists()
    )
    score_customers([c.pk for c in people])
    assert not Score.objects.filter(kind="outcome:bought_deposit").exists()


@pytest.mark.django_db
def test_the_success_attribute_cannot_be_a_feature_and_bad_input_is_refused(admin_user):
    _bank(12)
    client = client_for(admin_user)
    answer = _define(client, features=["attr_bought", "attr_balance"])
    assert answer.status_code == 200 and "gives away the answer" in answer.content.decode()
    answer = _define(client, success="event", event_kind="", horizon_days="0")
    text = answer.content.decode()
    assert answer.status_code == 200 and "Pick the event kind" in text and "Between 1 and 3650 days." in text
    assert _define(client, key="churn_risk").status_code == 200  # a built-in score's key
    Action.objects.create(key="deposit_call", name_en="D", name_de="D", department="sales")
    assert "An action has this key already." in _define(client, key="deposit_call").content.decode()
    assert _define(client, features=["no_such_column"]).status_code == 200
    assert not OutcomeDefinition.objects.exists()


@pytest.mark.django_db
def test_too_little_history_fails_the_evaluation_with_a_reason(admin_user, eager):
    _bank(15)
    client = client_for(admin_user)
    _define(client)
    definition = OutcomeDefinition.objects.get()
    eager(client, f"/insights/outcomes/{definition.pk}/evaluate/")
    job = Job.objects.get(pk=OutcomeDefinition.objects.get().job_id)
    assert job.status == "failed" and "Not enough history: 15 examples" in job.error
    assert "Not enough history" in client.get(f"/insights/outcomes/{definition.pk}/").content.decode()


@pytest.mark.django_db
def test_an_event_outcome_labels_snapshots_by_events_within_the_horizon():
    from django.utils import timezone

    now = timezone.now()
    early, later, never = CustomerFactory.create_batch(3, lifecycle="customer")
    for c in (early, later, never):
        Customer.objects.filter(pk=c.pk).update(created_at=now - timezone.timedelta(days=400))
    # within 30 days after the newest snapshot (now - 30 days): ``later``; ``early`` long before.
    history(event(later, "deal.won", "sales", 10, deal_id=1, amount=10))
    history(event(early, "deal.won", "sales", 300, deal_id=2, amount=10))
    definition = OutcomeDefinition(key="wins", success="event", event_kind="deal.won", horizon_days=30)
    examples = outcomes.defined(definition).examples(now)
    newest = examples[examples["as_of"] == examples["as_of"].max()].set_index("customer_id")["label"]
    assert newest.to_dict() == {early.pk: 0, later.pk: 1, never.pk: 0}
    assert examples["customer_id"].nunique() == 3 and examples["label"].sum() >= 1


@pytest.mark.django_db
def test_outcome_pages_are_for_admins_only(rep, manager, admin_user):
    definition = OutcomeDefinition.objects.create(key="x", name_en="X", name_de="X", attribute="a")
    for user, allowed in ((rep, False), (manager, False), (admin_user, True)):
        client = client_for(user)
        for path in ("/insights/outcomes/", "/insights/outcomes/new/", f"/insights/outcomes/{definition.pk}/",
                     "/insights/actions/new/"):  # fmt: skip
            assert client.get(path).status_code == (200 if allowed else 403), (user, path)
        answer = client.post(f"/insights/outcomes/{definition.pk}/evaluate/")
        assert answer.status_code == (302 if allowed else 403)


@pytest.mark.django_db
def test_a_new_action_starts_with_the_safe_eligibility_the_admin_widens_on_purpose(admin_user):
    client = client_for(admin_user)
    page = client.get("/insights/actions/new/").content.decode()
    assert "reaches current customers only, and only those who consented to its channel" in page
    base = {"name_en": "Deposit call", "name_de": "Einlagen-Anruf", "department": "sales", "channel": "email",
            "purpose": "offers", "value_fixed": "100", "lever": "1", "prior": "0.1", "is_active": "on"}  # fmt: skip
    answer = client.post("/insights/actions/new/", {**base, "key": "deposit_mail"})
    assert answer.status_code == 302
    rules = {(r.kind, r.field, r.op, r.value) for r in ActionRule.objects.filter(action__key="deposit_mail")}
    assert rules == {
        ("eligibility", "lifecycle", "in", "customer,at_risk"),
        ("eligibility", "consent_email_offers", "true", ""),
    }
    client.post(
        "/insights/actions/new/",
        {**base, "key": "wide_mail", "all_lifecycles": "on", "without_consent": "on"},
    )
    assert not ActionRule.objects.filter(action__key="wide_mail").exists()
    # Who it reaches: a lead, and a customer without consent, are left out of the safe one.
    lead = CustomerFactory(lifecycle="lead")
    plain = CustomerFactory(lifecycle="customer")
    score_customers([lead.pk, plain.pk])
    assert not Score.objects.filter(kind="propensity:deposit_mail").exists()
    assert set(Score.objects.filter(kind="propensity:wide_mail").values_list("customer_id", flat=True)) == {
        lead.pk,
        plain.pk,
    }

    # Edited in the app: a rule added, one removed; a rule that does not validate is refused.
    action = Action.objects.get(key="deposit_mail")
    kept, dropped = ActionRule.objects.filter(action=action).order_by("id")
    edit = {**base, "rules-TOTAL_FORMS": "3", "rules-INITIAL_FORMS": "2", "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "1000"}  # fmt: skip
    for i, rule in enumerate((kept, dropped)):
        edit.update({f"rules-{i}-id": rule.pk, f"rules-{i}-kind": rule.kind, f"rules-{i}-field": rule.field,
                     f"rules-{i}-op": rule.op, f"rules-{i}-value": rule.value, f"rules-{i}-weight": "1",
                     f"rules-{i}-group": "0"})  # fmt: skip
    edit["rules-1-DELETE"] = "on"
    edit.update({"rules-2-kind": "eligibility", "rules-2-field": "open_complaints", "rules-2-op": "eq",
                 "rules-2-value": "maybe", "rules-2-weight": "1", "rules-2-group": "0"})  # fmt: skip
    refused = client.post(f"/insights/actions/{action.pk}/edit/", edit)
    assert refused.status_code == 200 and ActionRule.objects.filter(action=action).count() == 2
    edit["rules-2-value"] = "0"
    assert client.post(f"/insights/actions/{action.pk}/edit/", edit).status_code == 302
    assert {(r.field, r.value) for r in ActionRule.objects.filter(action=action)} == {
        ("lifecycle", "customer,at_risk"),
        ("open_complaints", "0"),
    }


@pytest.mark.django_db
def test_each_action_has_propensity_conditions_and_a_list_filter(admin_user):
    action = Action.objects.create(key="deposit_call", name_en="Deposit call", name_de="Einlagen-Anruf",
                                   department="sales", prior=0.4)  # fmt: skip
    likely, unlikely, unknown = CustomerFactory.create_batch(3, lifecycle="customer", owner=admin_user)
    kind = scores.propensity_kind(action.key)
    Score.objects.create(customer=likely, kind=kind, value=0.45, band="high")
    Score.objects.create(customer=unlikely, kind=kind, value=0.05, band="low")
    score_conditions.sync(force=True)
    assert "customer.score.deposit_call" in conditions.items
    assert "customer.score_band.deposit_call" in conditions.items

    def who(rule):
        return set(Customer.objects.filter(to_q(rule)).values_list("pk", flat=True))

    assert who({"field": "customer.score.deposit_call", "op": "gte", "value": "30"}) == {likely.pk}
    assert who({"field": "customer.score_band.deposit_call", "op": "eq", "value": "low"}) == {unlikely.pk}
    # The customer list: one "Likely to" filter naming every action in the reader's language.
    client = client_for(admin_user)
    page = client.get("/customers/", {"likely": kind}).content.decode()
    assert (
        likely.display_name in page and unlikely.display_name not in page and unknown.display_name not in page
    )
    german = client.get("/customers/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Einlagen-Anruf" in german
    # A removed action's conditions go with it.
    action.delete()
    assert "customer.score.deposit_call" not in conditions.items
