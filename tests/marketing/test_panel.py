"""The 360 panel and the brief: consent badges, engagement, in at most two queries."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from customer360.registry import brief_sources, panels
from marketing import services
from tests.factories import CustomerFactory
from tests.marketing.factories import grant, running_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def gruber(rep):
    customer = CustomerFactory(first_name="Franz", last_name="Gruber", owner=rep)
    grant(customer)
    grant(customer, "phone", "offers")
    services.consent_withdraw(customer=customer, channel="phone", purpose="offers", reason="no calls")
    campaign = running_campaign(name="Premium newsletter")
    now = timezone.now()
    services.touch_record(
        campaign=campaign, customer=customer, status="sent", occurred_at=now - timedelta(days=8)
    )
    services.touch_record(
        campaign=campaign, customer=customer, status="opened", occurred_at=now - timedelta(days=6)
    )
    for n, days in enumerate((5, 3)):
        services.touch_record(
            campaign=campaign,
            customer=customer,
            status="clicked",
            occurred_at=now - timedelta(days=days),
            external_id=n,
        )
    return customer


def _panel_context(user, customer):
    """The panel's context the way the 360 page calls it."""
    request = RequestFactory().get("/")
    request.user = user
    user.has_perm("marketing.view_consent")  # the 360 page checked this already (permission cache)
    return panels.items["marketing"].context(request, customer)


def test_panel_shows_badges_and_engagement_in_two_queries(gruber, rep, django_assert_max_num_queries):
    rep.has_perm("marketing.view_consent")
    with django_assert_max_num_queries(2):
        ctx = _panel_context(rep, gruber)
    assert [b["text"] for b in ctx["badges"]] == ["no phone offers", "e-mail newsletter ok"]
    assert ctx["clicks"] == {"n30": 2, "n90": 2}
    assert ctx["opens"] == {"n30": 1, "n90": 1}
    assert ctx["last_click"]["campaign__name"] == "Premium newsletter"


def test_panel_query_count_does_not_grow_with_touches(gruber, rep, django_assert_max_num_queries):
    campaign = running_campaign(name="Another")
    for n in range(20):
        services.touch_record(campaign=campaign, customer=gruber, status="opened", external_id=n)
    rep.has_perm("marketing.view_consent")
    with django_assert_max_num_queries(2):
        ctx = _panel_context(rep, gruber)
    assert ctx["opens"]["n30"] == 21


def test_brief_says_no_phone_offers_and_recent_clicks(gruber, rep, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        items = brief_sources.items["marketing"].items(gruber, rep)
    texts = {(i.level, i.text) for i in items}
    assert ("avoid", "Customer does not want phone offers") in texts
    assert ("info", "Clicked the Premium newsletter twice last week") in texts


def test_brief_flags_a_recent_unsubscribe_in_red(rep):
    customer = CustomerFactory(owner=rep)
    grant(customer)
    grant(customer, "phone", "offers")
    campaign = running_campaign(name="Spring offer")
    services.touch_record(campaign=campaign, customer=customer, status="unsubscribed")
    items = brief_sources.items["marketing"].items(customer, rep)
    today = timezone.localdate()
    assert [(i.level, i.text) for i in items] == [
        ("red", f"Unsubscribed from Spring offer on {today.day} {today:%b %Y}")
    ]


def test_360_page_shows_the_panel_to_sales(gruber, rep_client):
    html = rep_client.get(gruber.get_absolute_url()).content.decode()
    assert "no phone offers" in html and "e-mail newsletter ok" in html
    assert f"/marketing/customers/{gruber.pk}/consent/" in html
