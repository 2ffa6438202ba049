"""Recommendations keep their identity across rescorings; closed ones answer in plain words and hand
feedback on to their successor (issue #16, build 1). Runs the ORM write path on SQLite and the
COPY / ON CONFLICT path on PostgreSQL (DATABASE_URL)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customer360.models import TimelineEvent
from insights import services
from insights.engine import score_customers
from insights.models import Action, ContactPolicy, Recommendation
from tests.conftest import client_for
from tests.insights.factories import event, gruber_history, history

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(customer):
    ContactPolicy.objects.update(holdout_share=0.0)
    Action.objects.update(exploration_share=0.0)
    gruber_history(customer)
    score_customers([customer.pk])
    return customer


def _open(customer) -> dict[str, Recommendation]:
    recs = Recommendation.objects.filter(customer=customer, status="open").select_related("action")
    return {r.action.key: r for r in recs}


def _drop_payment_plan(customer) -> Recommendation:
    """A rescoring in which the payment-plan offer is no longer chosen: it becomes superseded."""
    old = _open(customer)["payment_plan_offer"]
    Action.objects.filter(key="payment_plan_offer").update(lever=0)
    score_customers([customer.pk])
    old.refresh_from_db()
    return old


def _bring_back_payment_plan(customer) -> Recommendation:
    Action.objects.filter(key="payment_plan_offer").update(lever=1)
    score_customers([customer.pk])
    return _open(customer)["payment_plan_offer"]


def _events(customer, kind):
    return list(TimelineEvent.objects.filter(customer=customer, kind=kind))


# --- the engine's write paths -------------------------------------------------------------------------------
@pytest.mark.parametrize("by_range", [False, True])
def test_rescoring_updates_open_recommendations_in_place(scored, by_range):
    before = _open(scored)
    assert set(before) == {"service_recovery_call", "renewal_call", "payment_plan_offer"}
    # A new fact and a changed lever: other scores, reasons and ranks for the same three actions.
    history(event(scored, "dunning.notice", "accounting", 0.1, invoice_id=9, level=3, open_amount=1240.0))
    Action.objects.filter(key="payment_plan_offer").update(lever=10)
    later = timezone.now() + timedelta(minutes=5)
    if by_range:
        score_customers(id_range=(scored.pk, scored.pk), now=later)
    else:
        score_customers([scored.pk], now=later)
    after = _open(scored)
    assert {k: r.pk for k, r in after.items()} == {k: r.pk for k, r in before.items()}
    plan_before, plan_after = before["payment_plan_offer"], after["payment_plan_offer"]
    assert plan_after.rank == 1 and plan_before.rank == 3
    assert plan_after.priority > plan_before.priority * 5
    assert "dunning level 3" in plan_after.reason_texts("en")
    assert plan_after.created_at == plan_before.created_at  # first seen stays
    assert plan_after.scored_at == later
    assert Recommendation.objects.filter(customer=scored).count() == 3


def test_an_action_no_longer_chosen_is_superseded_not_deleted(scored):
    old = _drop_payment_plan(scored)
    assert old.status == "superseded" and old.decided_at is not None and old.decided_by is None
    assert "payment_plan_offer" not in _open(scored)
    new = _bring_back_payment_plan(scored)
    assert new.pk != old.pk
    old.refresh_from_db()
    assert old.status == "superseded"


# --- the services -------------------------------------------------------------------------------------------
def test_accepting_a_replaced_recommendation_records_it_on_the_successor(scored, rep):
    old = _drop_payment_plan(scored)
    new = _bring_back_payment_plan(scored)
    recorded = services.recommendation_accept(recommendation_id=old.pk, user=rep)
    assert recorded.pk == new.pk and recorded.replaced.pk == old.pk
    new.refresh_from_db()
    old.refresh_from_db()
    assert (new.status, new.decided_by) == ("accepted", rep)
    assert old.status == "superseded"
    [accepted] = _events(scored, "nba.accepted")
    assert accepted.payload["recommendation_id"] == new.pk
    assert accepted.payload["replaced_recommendation_id"] == old.pk


def test_an_expired_recommendation_hands_feedback_to_the_next_one(scored, rep):
    old = _open(scored)["renewal_call"]
    assert services.recommendations_expire(now=timezone.now() + timedelta(days=15)) == 3
    score_customers([scored.pk])
    new = _open(scored)["renewal_call"]
    recorded = services.recommendation_dismiss(recommendation_id=old.pk, user=rep, reason="bad_timing")
    assert recorded.pk == new.pk
    new.refresh_from_db()
    assert (new.status, new.dismiss_reason) == ("dismissed", "bad_timing")


def test_accepting_a_superseded_one_without_successor_says_so(scored, rep):
    old = _drop_payment_plan(scored)
    with pytest.raises(services.RecommendationClosed) as refused:
        services.recommendation_accept(recommendation_id=old.pk, user=rep)
    assert "“Payment-plan offer” is no longer recommended for this customer" in str(refused.value)
    assert not _events(scored, "nba.accepted")


def test_a_dismissal_without_successor_is_kept_on_the_closed_one(scored, rep):
    old = _drop_payment_plan(scored)
    services.recommendation_dismiss(recommendation_id=old.pk, user=rep, reason="declined")
    old.refresh_from_db()
    assert (old.status, old.dismiss_reason) == ("dismissed", "declined")
    assert len(_events(scored, "nba.dismissed")) == 1
    Action.objects.filter(key="payment_plan_offer").update(lever=1)
    score_customers([scored.pk])
    assert "payment_plan_offer" not in _open(scored)  # it rests for the cool-down


# --- the page ----------------------------------------------------------------------------------------------
def test_panel_button_after_a_rescoring_still_records(rep_client, scored):
    shown = _open(scored)["renewal_call"]
    history(event(scored, "email.clicked", "marketing", 0.1, campaign="Premium newsletter"))
    score_customers([scored.pk])  # the background rescoring between page load and click
    response = rep_client.post(
        reverse("insights:accept", args=[shown.pk]), {"customer": scored.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "timeline-changed"
    shown.refresh_from_db()
    assert shown.status == "accepted"
    assert "In progress" in response.content.decode()


def test_panel_button_on_a_superseded_one_answers_in_plain_words(rep_client, scored):
    old = _drop_payment_plan(scored)
    response = rep_client.post(reverse("insights:accept", args=[old.pk]), {"customer": scored.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert "is no longer recommended for this customer" in html
    assert "The current recommendations are shown." in html
    assert 'id="nba-panel"' in html and "Service-recovery call" in html
    assert "Payment-plan offer" not in html.split("The current recommendations are shown.")[1]


def test_panel_button_on_a_replaced_one_names_where_it_was_recorded(rep_client, scored):
    old = _drop_payment_plan(scored)
    new = _bring_back_payment_plan(scored)
    response = rep_client.post(reverse("insights:dismiss", args=[old.pk]), {"reason": "other"})
    assert "your dismissal was recorded on the current one" in response.content.decode()
    new.refresh_from_db()
    assert new.status == "dismissed"


def test_panel_button_for_a_vanished_id_refreshes_the_panel(rep_client, rep2, scored):
    gone = _open(scored)["renewal_call"]
    pk = gone.pk
    gone.delete()
    response = rep_client.post(reverse("insights:accept", args=[pk]), {"customer": scored.pk})
    assert response.status_code == 200
    assert "That recommendation is no longer there" in response.content.decode()
    assert rep_client.post(reverse("insights:accept", args=[pk])).status_code == 404
    # Another team's rep learns nothing about the customer through the fallback.
    assert (
        client_for(rep2).post(reverse("insights:accept", args=[pk]), {"customer": scored.pk}).status_code
        == 404
    )


# --- the API -----------------------------------------------------------------------------------------------
def test_api_feedback_on_a_replaced_recommendation(rep, scored):
    client = client_for(rep)
    old = _drop_payment_plan(scored)
    url = f"/api/insights/recommendations/{old.pk}/accept/"
    refused = client.post(url, {}, content_type="application/json")
    assert refused.status_code == 409
    body = refused.json()
    assert body["status"] == "superseded"
    assert "is no longer recommended for this customer" in body["detail"]
    assert [r["action_key"] for r in body["current"]][0] == "service_recovery_call"
    new = _bring_back_payment_plan(scored)
    done = client.post(url, {}, content_type="application/json")
    assert done.status_code == 200
    assert (done.json()["id"], done.json()["status"], done.json()["replaced_recommendation"]) == (
        new.pk,
        "accepted",
        old.pk,
    )
    retried = client.post(url, {}, content_type="application/json")
    assert retried.status_code == 200 and retried.json()["id"] == new.pk
    assert len(_events(scored, "nba.accepted")) == 1


def test_api_lists_bands_and_filters_by_band(rep, scored):
    client = client_for(rep)
    rows = client.get("/api/insights/recommendations/", {"customer": scored.pk}).json()["results"]
    by_key = {r["action_key"]: r for r in rows}
    recovery = by_key["service_recovery_call"]
    assert recovery["priority_band"] == "high" and recovery["priority"] >= 300
    assert recovery["expected_value"] == pytest.approx(recovery["propensity"] * recovery["value"])
    high = client.get("/api/insights/recommendations/", {"customer": scored.pk, "band": "high"}).json()
    assert {r["priority_band"] for r in high["results"]} == {"high"}
    assert high["count"] == sum(1 for r in rows if r["priority"] >= 300)
    assert client.get("/api/insights/recommendations/", {"band": "huge"}).status_code == 400


def test_an_expired_one_without_successor_says_when_it_expired(rep_client, scored):
    old = _open(scored)["renewal_call"]
    services.recommendations_expire(now=timezone.now() + timedelta(days=15))
    response = rep_client.post(reverse("insights:accept", args=[old.pk]), {"customer": scored.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert "“Renewal call” expired on" in html and "without being acted on" in html
    old.refresh_from_db()
    assert old.status == "expired" and not _events(scored, "nba.accepted")
    german = rep_client.post(
        f"/api/insights/recommendations/{old.pk}/accept/", {}, content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="de",
    )  # fmt: skip
    assert german.status_code == 409 and "ohne Bearbeitung abgelaufen" in german.json()["detail"]
