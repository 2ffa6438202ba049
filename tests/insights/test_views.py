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
    html = manager_client.get(reverse("analytics:nba_performance")).content.decode()
    assert "Acceptance and conversion by action" in html and "100 %" in html
    assert rep_client.get(reverse("analytics:nba_performance")).status_code == 403


# --- "My recommendations" (issue #16, build 2) ---------------------------------------------------------------
def _rec(customer, key, priority, rank=1, **fields):
    return Recommendation.objects.create(
        customer=customer,
        action=Action.objects.get(key=key),
        rank=rank,
        priority=priority,
        propensity=fields.pop("propensity", 0.25),
        value=fields.pop("value", 800),
        reasons=fields.pop("reasons", [{"en": "dunning level 2", "de": "Mahnstufe 2"}]),
        **fields,
    )


@pytest.fixture
def my_recs(rep):
    customers = CustomerFactory.create_batch(30, owner=rep)
    for i, c in enumerate(customers[:27]):
        _rec(c, "renewal_call", 1000 - i)  # high
    _rec(customers[27], "upsell", 150, value=400)  # medium
    _rec(customers[28], "upsell", 40, is_exploration=True, reasons=[
        {"en": "clicked Premium newsletter twice", "de": "Premium newsletter zweimal geklickt"},
        {"en": "new action, being tried out", "de": "neue Aktion, wird erprobt"},
    ])  # fmt: skip
    _rec(customers[29], "no_contact", 2000, reasons=[{"en": "open complaint 5 days", "de": "x"}])
    _rec(customers[0], "upsell", 900, rank=2)
    return customers


def _rows(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('<tr data-action="')[1:]]


def test_my_recommendations_pages_hide_no_contact_and_show_bands(
    rep_client, my_recs, django_assert_max_num_queries
):
    url = reverse("insights:my_recommendations")
    rep_client.get(url)
    with django_assert_max_num_queries(14):
        html = rep_client.get(url).content.decode()
    assert _rows(html) == ["renewal_call"] * 25
    assert "Page 1 of 2" in html and "no_contact" not in _rows(html)
    assert "High priority" in html and "expected value EUR 200" in html  # 0.25 x 800
    assert "Recommended because: dunning level 2." in html
    assert ">1000<" not in html  # no bare priority numbers
    second = rep_client.get(url, {"page": 2}).content.decode()
    assert _rows(second) == ["renewal_call", "renewal_call", "upsell", "upsell"]
    assert "Medium priority" in second and "Low priority" in second
    trial = second.split('data-band="low"', 1)[1]
    assert 'title="Being tried out: we do not know yet how well this action works' in trial
    assert "Recommended because: clicked Premium newsletter twice." in trial
    assert "new action, being tried out" not in second
    with_quiet = rep_client.get(url, {"quiet": "1"}).content.decode()
    assert _rows(with_quiet)[0] == "no_contact"


def test_my_recommendations_filter_by_action_and_band(rep_client, my_recs):
    url = reverse("insights:my_recommendations")
    upsell = rep_client.get(url, {"action": "upsell"}).content.decode()
    assert _rows(upsell) == ["upsell", "upsell", "upsell"]  # every open one of the action, any rank
    assert "(no. 2 for this customer)" in upsell
    medium = rep_client.get(url, {"band": "medium"}).content.decode()
    assert _rows(medium) == ["upsell"] and "Medium priority" in medium
    both = rep_client.get(url, {"action": "upsell", "band": "high"}).content.decode()
    assert _rows(both) == ["upsell"] and "expected value EUR 200" in both
    paged = rep_client.get(url, {"band": "high", "page": "2"}).content.decode()
    assert 'href="?band=high&amp;page=1"' in paged
    nothing = rep_client.get(url, {"action": "win_back"}).content.decode()
    assert "No recommendations match these filters." in nothing
    unknown = rep_client.get(url, {"action": "nope", "band": "huge"}).content.decode()
    assert len(_rows(unknown)) == 25  # unknown values are ignored, not a 500


def test_my_recommendations_in_german(rep, my_recs):
    html = (
        client_for(rep)
        .get(reverse("insights:my_recommendations"), HTTP_ACCEPT_LANGUAGE="de")
        .content.decode()
    )
    assert "Hohe Priorität" in html and "Empfohlen wegen: Mahnstufe 2." in html
    assert "erwarteter Wert EUR 200" in html
    second = client_for(rep).get(
        reverse("insights:my_recommendations"), {"action": "upsell"}, HTTP_ACCEPT_LANGUAGE="de"
    )
    assert 'title="Wird erprobt: Wir wissen noch nicht' in second.content.decode()
    assert "(Nr. 2 für diesen Kunden)" in second.content.decode()
