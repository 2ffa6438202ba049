"""The 360 panel, its buttons, my recommendations, the catalogue and the manager view."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from insights.engine import score_customers
from insights.models import Action, ContactPolicy, Recommendation
from insights.panels import panel_context
from tests.conftest import client_for
from tests.factories import CustomerFactory
from tests.insights.factories import gruber_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(customer):
    ContactPolicy.objects.update(holdout_share=0.0)
    # Exploration picks customers by a hash of id and week: on PostgreSQL ids differ from run to run.
    Action.objects.update(exploration_share=0.0)
    gruber_history(customer)
    score_customers([customer.pk])
    return customer


def test_panel_before_scoring_says_so(rep_client, customer):
    html = rep_client.get(customer.get_absolute_url()).content.decode()
    assert "Next best actions" in html and "No recommendations computed yet" in html


def test_panel_shows_top_actions_with_reasons_and_talking_points(rep_client, scored):
    html = rep_client.get(scored.get_absolute_url()).content.decode()
    assert html.index("Service-recovery call") < html.index("Renewal call") < html.index("Payment-plan offer")
    assert "last satisfaction score 2 of 5" in html
    assert "Do not pitch anything in this call." in html


def test_panel_in_german(rep, scored):
    client = client_for(rep)
    html = client.get(scored.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Service-Wiedergutmachungsanruf" in html and "Mahnstufe 2" in html


def test_panel_context_query_count(rep, scored, django_assert_max_num_queries):
    request = RequestFactory().get("/")
    request.user = rep
    rep.has_perm("insights.change_recommendation")  # permission cache, as on the real page
    with django_assert_max_num_queries(2):
        ctx = panel_context(request, scored)
    assert len(ctx["items"]) == 3


def test_buttons_accept_dismiss_complete(rep_client, scored):
    recs = list(Recommendation.objects.filter(customer=scored, status="open").order_by("rank"))
    response = rep_client.post(reverse("insights:accept", args=[recs[0].pk]), HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"] == "timeline-changed"
    assert "In progress" in response.content.decode()
    rep_client.post(reverse("insights:dismiss", args=[recs[1].pk]), {"reason": "bad_timing"})
    rep_client.post(reverse("insights:complete", args=[recs[0].pk]), {"outcome": "failure"})
    statuses = dict(Recommendation.objects.filter(pk__in=[r.pk for r in recs]).values_list("pk", "status"))
    assert statuses == {recs[0].pk: "completed", recs[1].pk: "dismissed", recs[2].pk: "open"}
    again = rep_client.post(reverse("insights:dismiss", args=[recs[1].pk]), {"reason": "other"})
    assert "already Dismissed" in again.content.decode()


def test_other_teams_rep_gets_404(rep2, scored):
    rec = Recommendation.objects.filter(customer=scored).first()
    response = client_for(rep2).post(reverse("insights:accept", args=[rec.pk]))
    assert response.status_code == 404
    rec.refresh_from_db()
    assert rec.status == "open"


def test_my_recommendations_lists_own_customers_by_priority(rep, rep2, scored, django_assert_max_num_queries):
    other = CustomerFactory(owner=rep2)
    gruber_history(other)
    score_customers([other.pk])
    client = client_for(rep)
    client.get(reverse("insights:my_recommendations"))
    with django_assert_max_num_queries(12):
        html = client.get(reverse("insights:my_recommendations")).content.decode()
    assert scored.display_name in html and other.display_name not in html
    assert "Service-recovery call" in html


def test_catalogue_lists_the_seeded_actions(rep_client):
    html = rep_client.get(reverse("insights:catalogue")).content.decode()
    for name in ["Upsell", "Cross-sell", "Renewal call", "Service-recovery call", "Payment-plan offer", "Win-back",
                 "Consent refresh", "No contact now"]:  # fmt: skip
        assert name in html


def test_manager_view_and_permission(manager_client, rep_client, scored, rep):
    rec = Recommendation.objects.filter(customer=scored, status="open").first()
    from insights import services

    services.recommendation_accept(recommendation_id=rec.pk, user=rep)
    html = manager_client.get(reverse("insights:manager")).content.decode()
    assert "Acceptance and conversion by action" in html and "100 %" in html
    assert rep_client.get(reverse("insights:manager")).status_code == 403
