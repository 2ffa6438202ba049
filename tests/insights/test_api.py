"""NBA API: permissions per role (403), customer scope (404), feedback writes one timeline event
(also when retried), 400 naming field and reason, texts in the request language, query counts."""

from datetime import date
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from rest_framework.test import APIClient

from customer360.models import TimelineEvent
from insights.engine import score_customers
from insights.models import Action, ContactPolicy, ModelVersion, Recommendation
from tests.conftest import token_client_for
from tests.factories import CustomerFactory, UserFactory, assign
from tests.insights.factories import event, gruber_history, history

pytestmark = pytest.mark.django_db

REASON = {"en": "3 overdue reminders", "de": "3 Mahnungen offen"}


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def make_rec(customer, key: str = "renewal_call", priority: float = 10.0, **fields) -> Recommendation:
    return Recommendation.objects.create(
        customer=customer,
        action=Action.objects.get(key=key),
        priority=priority,
        propensity=0.2,
        value=priority / 0.2,
        reasons=[REASON],
        **fields,
    )


def nba_events(customer) -> list[str]:
    return sorted(TimelineEvent.objects.filter(customer=customer).values_list("kind", flat=True))


# --- permissions and scope ---------------------------------------------------------------------------
READ = {"Sales": 200, "Service": 200, "Marketing": 200, "Accounting": 200, "Manager": 200, "Admin": 200}
MODELS = {"Sales": 403, "Service": 403, "Marketing": 403, "Accounting": 403, "Manager": 200, "Admin": 200}
EDIT_ACTION = {
    "Sales": 403,
    "Service": 403,
    "Marketing": 403,
    "Accounting": 403,
    "Manager": 403,
    "Admin": 200,
}


@pytest.mark.parametrize("role", list(READ))
def test_endpoints_by_role(role_users, role):
    client = api(role_users[role])
    assert client.get("/api/insights/recommendations/").status_code == READ[role]
    assert client.get("/api/insights/actions/").status_code == READ[role]
    assert client.get("/api/insights/model-versions/").status_code == MODELS[role]
    upsell = Action.objects.get(key="upsell")
    patched = client.patch(f"/api/insights/actions/{upsell.pk}/", {"lever": 0.5}, format="json")
    assert patched.status_code == EDIT_ACTION[role]
    upsell.refresh_from_db()
    assert upsell.lever == (0.5 if role == "Admin" else 1.0)


def test_user_without_insights_permissions_gets_403(customer):
    rec = make_rec(customer)
    client = api(UserFactory(username="nobody"))
    for url in (
        "/api/insights/recommendations/",
        f"/api/insights/recommendations/{rec.pk}/",
        "/api/insights/actions/",
        f"/api/insights/customers/{customer.pk}/recommendations/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/api/insights/recommendations/{rec.pk}/accept/").status_code == 403
    assert client.post(f"/api/insights/customers/{customer.pk}/rescore/").status_code == 403
    anonymous = APIClient().get("/api/insights/recommendations/")  # token auth first: 401, not 403
    assert anonymous.status_code == 401 and "credentials" in anonymous.json()["detail"]
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    rec.refresh_from_db()
    assert rec.status == "open" and nba_events(customer) == []


def test_rep_sees_only_visible_customers_others_404(rep, rep2, customer):
    mine = make_rec(customer, priority=5)
    foreign_customer = CustomerFactory(owner=rep2)
    foreign = make_rec(foreign_customer, priority=50)
    client = api(rep)
    listed = client.get("/api/insights/recommendations/").json()
    assert listed["count"] == 1 and [r["id"] for r in listed["results"]] == [mine.pk]
    assert client.get(f"/api/insights/recommendations/{foreign.pk}/").status_code == 404
    for verb, body in (
        ("accept", {}),
        ("dismiss", {"reason": "declined"}),
        ("complete", {"outcome": "success"}),
    ):
        assert client.post(f"/api/insights/recommendations/{foreign.pk}/{verb}/", body).status_code == 404
    assert client.get(f"/api/insights/customers/{foreign_customer.pk}/recommendations/").status_code == 404
    assert client.post(f"/api/insights/customers/{foreign_customer.pk}/rescore/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == "open" and nba_events(foreign_customer) == []
    assert api(rep2).get(f"/api/insights/recommendations/{foreign.pk}/").status_code == 200


def test_marketing_sees_only_customers_assigned_to_marketing(marketing_user, customer):
    rec = make_rec(customer)
    client = api(marketing_user)
    assert client.get("/api/insights/recommendations/").json()["count"] == 0
    assert client.get(f"/api/insights/recommendations/{rec.pk}/").status_code == 404
    # Marketing's own history with the customer does not widen its scope; an assignment does.
    history(event(customer, "email.clicked", "marketing", 2, campaign="Premium newsletter"))
    assert client.get("/api/insights/recommendations/").json()["count"] == 0
    assign(customer, "marketing")
    assert [r["id"] for r in client.get("/api/insights/recommendations/").json()["results"]] == [rec.pk]


def test_token_authentication(rep, customer):
    make_rec(customer)
    client = token_client_for(rep, scopes=["insights:read"])
    assert client.get("/api/insights/recommendations/").json()["count"] == 1


# --- feedback ----------------------------------------------------------------------------------------
def test_accept_then_complete_one_event_each_also_when_retried(rep, customer):
    rec = make_rec(customer)
    client = api(rep)
    url = f"/api/insights/recommendations/{rec.pk}"
    for _ in range(2):
        accepted = client.post(f"{url}/accept/", {"follow_up_on": "2030-01-15"})
        assert accepted.status_code == 200
        assert accepted.json()["status"] == "accepted" and accepted.json()["decided_by"] == "rep"
    assert nba_events(customer) == ["nba.accepted"]
    for _ in range(2):
        completed = client.post(f"{url}/complete/", {"outcome": "success", "note": "signed"})
        assert completed.status_code == 200 and completed.json()["outcome"] == "success"
    assert nba_events(customer) == ["nba.accepted", "nba.completed"]
    rec.refresh_from_db()
    assert (rec.status, rec.outcome, rec.note, rec.follow_up_on) == (
        "completed",
        "success",
        "signed",
        date(2030, 1, 15),
    )
    # a different outcome or any other feedback on a completed recommendation is refused
    other = client.post(f"{url}/complete/", {"outcome": "failure"})
    assert other.status_code == 400 and other.json() == {
        "status": ["This recommendation is already Completed."]
    }
    refused = client.post(f"{url}/dismiss/", {"reason": "declined"})
    assert refused.status_code == 400 and "already Completed" in refused.json()["status"][0]
    assert client.post(f"{url}/accept/").status_code == 400
    assert nba_events(customer) == ["nba.accepted", "nba.completed"]


def test_dismiss_needs_a_known_reason_and_writes_one_event(rep, customer):
    rec = make_rec(customer)
    client = api(rep)
    url = f"/api/insights/recommendations/{rec.pk}/dismiss/"
    missing = client.post(url, {})
    assert missing.status_code == 400 and missing.json() == {"reason": ["This field is required."]}
    unknown = client.post(url, {"reason": "nonsense"})
    assert unknown.status_code == 400 and list(unknown.json()) == ["reason"]
    assert nba_events(customer) == []
    for _ in range(2):
        dismissed = client.post(url, {"reason": "bad_timing", "note": "on holiday"})
        assert dismissed.status_code == 200
        assert dismissed.json()["dismiss_reason"] == "bad_timing"
    assert nba_events(customer) == ["nba.dismissed"]
    event_row = TimelineEvent.objects.get(customer=customer)
    assert event_row.payload == {
        "recommendation_id": rec.pk,
        "action": "renewal_call",
        "action_name": {"en": "Renewal call", "de": "Verlängerungsgespräch"},
        "reason": "bad_timing",
    }
    assert event_row.title == "Recommendation dismissed: Renewal call (Bad timing)"
    with translation.override("de"):
        assert event_row.display_title == "Empfehlung abgelehnt: Verlängerungsgespräch (Schlechter Zeitpunkt)"
    assert event_row.actor_id == rep.pk
    other_reason = client.post(url, {"reason": "declined"})
    assert other_reason.status_code == 400 and "status" in other_reason.json()
    no_outcome = client.post(f"/api/insights/recommendations/{rec.pk}/complete/", {})
    assert no_outcome.status_code == 400 and list(no_outcome.json()) == ["outcome"]


def test_manager_reads_but_may_not_give_feedback(manager, customer):
    rec = make_rec(customer)
    client = api(manager)
    assert client.get(f"/api/insights/recommendations/{rec.pk}/").status_code == 200
    assert client.post(f"/api/insights/recommendations/{rec.pk}/accept/").status_code == 403
    assert nba_events(customer) == []


# --- reading -----------------------------------------------------------------------------------------
def test_list_filters_and_priority_order(rep, customer):
    other = CustomerFactory(owner=None)  # unowned: visible to the team, but not "mine"
    low = make_rec(customer, "renewal_call", priority=1)
    high = make_rec(customer, "upsell", priority=9)
    done = make_rec(customer, "win_back", priority=5, status="completed", outcome="failure")
    unowned = make_rec(other, "renewal_call", priority=7)
    client = api(rep)

    def ids(query: str = "") -> list[int]:
        response = client.get(f"/api/insights/recommendations/{query}")
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert ids() == [high.pk, unowned.pk, done.pk, low.pk]
    assert ids("?status=open") == [high.pk, unowned.pk, low.pk]
    assert ids("?owner=me") == [high.pk, done.pk, low.pk]
    assert ids(f"?customer={other.pk}") == [unowned.pk]
    assert ids(f"?action={low.action_id}") == [unowned.pk, low.pk]
    assert ids("?action_key=upsell&owner=me") == [high.pk]
    bad = client.get("/api/insights/recommendations/?status=nonsense")
    assert bad.status_code == 400 and list(bad.json()) == ["status"]


def test_retrieve_in_the_request_language(rep, customer):
    rec = make_rec(customer, "service_recovery_call")
    url = f"/api/insights/recommendations/{rec.pk}/"
    english = api(rep).get(url).json()
    assert english["action_name"] == "Service-recovery call"
    assert english["reasons"] == ["3 overdue reminders"]
    assert english["talking_points"][-1] == "Do not pitch anything in this call."
    german = api(rep).get(url, HTTP_ACCEPT_LANGUAGE="de").json()
    assert german["action_name"] == "Service-Wiedergutmachungsanruf"
    assert german["reasons"] == ["3 Mahnungen offen"]
    assert german["talking_points"][-1] == "In diesem Gespräch nichts verkaufen."
    assert german["customer_name"] == "Franz Gruber" and german["customer"] == customer.pk


def test_customer_top_recommendations_from_the_engine(rep, customer):
    ContactPolicy.objects.update(holdout_share=0.0)
    # Exploration picks customers by a hash of their id and the week: off, so the ranking is the engine's
    # priorities whatever id the database hands out.
    Action.objects.update(exploration_share=0)
    gruber_history(customer)
    score_customers([customer.pk])
    rows = api(rep).get(f"/api/insights/customers/{customer.pk}/recommendations/").json()
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert [r["action_key"] for r in rows] == ["service_recovery_call", "renewal_call", "payment_plan_offer"]
    assert "last satisfaction score 2 of 5" in rows[0]["reasons"]
    assert rows[0]["talking_points"] and all(r["status"] == "open" for r in rows)


@pytest.mark.parametrize("user_fixture", ["rep", "manager"])
def test_list_query_count_does_not_grow(request, rep, user_fixture, django_assert_max_num_queries):
    client = api(request.getfixturevalue(user_fixture))

    def seed(n: int) -> None:
        for i in range(n):
            make_rec(CustomerFactory(owner=rep), priority=i, decided_by=rep)

    seed(3)
    client.get("/api/insights/recommendations/")
    with CaptureQueriesContext(connection) as small:
        assert client.get("/api/insights/recommendations/").json()["count"] == 3
    seed(27)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get("/api/insights/recommendations/?status=open")
    assert response.json()["count"] == 30 and len(response.json()["results"]) == 30


# --- catalogue, models, rescoring ----------------------------------------------------------------------
def test_catalogue_in_german_and_admin_edits_only_the_levers(admin_user):
    client = api(admin_user)
    rows = client.get("/api/insights/actions/?is_active=true", HTTP_ACCEPT_LANGUAGE="de").json()["results"]
    by_key = {r["key"]: r for r in rows}
    assert by_key["payment_plan_offer"]["name"] == "Ratenzahlung anbieten"
    assert by_key["payment_plan_offer"]["talking_points"][1] == "3 oder 6 Monatsraten vorschlagen."
    assert by_key["upsell"]["department"] == "sales"
    pk = by_key["upsell"]["id"]
    changed = client.patch(
        f"/api/insights/actions/{pk}/",
        {"lever": 1.5, "is_active": False, "value_fixed": 250, "key": "hacked", "department": "service"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    action = Action.objects.get(pk=pk)
    assert (action.key, action.department, action.lever, action.is_active, action.value_fixed) == (
        "upsell",
        "sales",
        1.5,
        False,
        250.0,
    )
    negative = client.patch(f"/api/insights/actions/{pk}/", {"lever": -1}, format="json")
    assert negative.status_code == 400 and list(negative.json()) == ["lever"]
    unknown = client.patch(f"/api/insights/actions/{pk}/", {"value_feature": "shoe_size"}, format="json")
    assert unknown.status_code == 400 and list(unknown.json()) == ["value_feature"]
    known = client.patch(f"/api/insights/actions/{pk}/", {"value_feature": "monetary_365"}, format="json")
    assert known.status_code == 200 and known.json()["value_feature"] == "monetary_365"


def test_model_versions_for_managers(manager, rep):
    upsell = Action.objects.get(key="upsell")
    for version, auc in ((1, 0.61), (2, 0.68)):
        ModelVersion.objects.create(
            action=upsell, version=version, path=f"/m/{version}", n=400 * version, auc=auc, data_hash="x"
        )
    rows = api(manager).get("/api/insights/model-versions/").json()["results"]
    assert [(r["action_key"], r["version"], r["auc"], r["n"]) for r in rows] == [
        ("upsell", 2, 0.68, 800),
        ("upsell", 1, 0.61, 400),
    ]
    assert api(rep).get("/api/insights/model-versions/").status_code == 403


def test_an_outcome_model_has_no_action_key_but_names_its_outcome(manager):
    """A learned risk's model (no action) is listed too: action and action_key null, outcome named."""
    version = ModelVersion.objects.create(
        action=None, outcome="churn_risk", version=1, path="/m/churn", n=300, auc=0.8, data_hash="y"
    )
    row = api(manager).get(f"/api/insights/model-versions/{version.pk}/").json()
    assert (row["action"], row["action_key"], row["outcome"], row["auc"]) == (None, None, "churn_risk", 0.8)


def test_rescore_enqueues_the_incremental_task_once(rep, customer):
    cache.clear()
    client = api(rep)
    with mock.patch("insights.tasks.rescore_customer.apply_async") as enqueue:
        first = client.post(f"/api/insights/customers/{customer.pk}/rescore/")
        second = client.post(f"/api/insights/customers/{customer.pk}/rescore/")
    assert first.status_code == second.status_code == 202
    assert first.json() == {"customer": customer.pk, "enqueued": True}
    assert second.json() == {"customer": customer.pk, "enqueued": False}  # debounced: one pending
    enqueue.assert_called_once_with(args=[customer.pk], countdown=mock.ANY)
    with mock.patch("insights.tasks.rescore_customer.apply_async") as enqueue:
        assert client.post("/api/insights/customers/999999/rescore/").status_code == 404
    enqueue.assert_not_called()
