"""Marketing pages: permissions per role, behaviour, constant query counts."""

import pytest
from django.urls import reverse

from customer360.models import TimelineEvent
from marketing import services
from marketing.models import Campaign, Consent, Segment, Touch
from tests.conftest import client_for
from tests.factories import CustomerFactory
from tests.marketing.factories import CampaignFactory, SegmentFactory, grant, running_campaign

pytestmark = pytest.mark.django_db

READ_PAGES = ["marketing:campaign_list", "marketing:segment_list", "marketing:segment_create"]
# role -> may read campaign/segment pages, may edit
ACCESS = {
    "Sales": (False, False),
    "Service": (False, False),
    "Accounting": (False, False),
    "Marketing": (True, True),
    "Manager": (True, False),
    "Admin": (True, True),
}


@pytest.mark.parametrize("role", list(ACCESS))
def test_campaign_and_segment_pages_per_role(role, role_users):
    may_read, may_edit = ACCESS[role]
    client = client_for(role_users[role])
    campaign = CampaignFactory()
    segment = SegmentFactory()
    assert client.get(reverse("marketing:campaign_list")).status_code == (200 if may_read else 403)
    assert client.get(reverse("marketing:segment_list")).status_code == (200 if may_read else 403)
    assert client.get(campaign.get_absolute_url()).status_code == (200 if may_read else 403)
    assert client.get(segment.get_absolute_url()).status_code == (200 if may_read else 403)
    assert client.get(reverse("marketing:campaign_create")).status_code == (200 if may_edit else 403)
    response = client.post(reverse("marketing:campaign_action", args=[campaign.pk, "launch"]))
    assert response.status_code == (302 if may_edit else 403)
    assert Campaign.objects.get().status == ("running" if may_edit else "draft")
    response = client.post(segment.get_absolute_url(), {"name": "Renamed", "match": "all"})
    assert response.status_code == (302 if may_edit else 403)
    assert Segment.objects.get().name == ("Renamed" if may_edit else segment.name)


def test_denied_page_says_what_is_missing(rep):
    response = client_for(rep).get(reverse("marketing:campaign_list"))
    assert response.status_code == 403
    assert "marketing.view_campaign" in response.content.decode()


@pytest.mark.parametrize("role", list(ACCESS))
def test_consent_page_per_role(role, role_users, rep):
    customer = CustomerFactory(owner=rep)
    grant(customer)  # a marketing event: Marketing sees the customer now
    client = client_for(role_users[role])
    url = reverse("marketing:customer_consent", args=[customer.pk])
    expected = {
        "Sales": 200,
        "Marketing": 200,
        "Manager": 200,
        "Admin": 200,
        "Service": 403,
        "Accounting": 403,
    }
    assert client.get(url).status_code == expected[role]
    data = {"action": "withdraw", "channel": "email", "purpose": "newsletter", "reason": "phone call"}
    response = client.post(url, data)
    may_change = role in {"Marketing", "Admin"}
    assert response.status_code == (302 if may_change else 403)
    assert Consent.objects.get().status == ("withdrawn" if may_change else "granted")


def test_sales_gets_404_for_consent_of_customers_they_cannot_see(rep, rep2):
    other = CustomerFactory(owner=rep2)
    rep2.profile.team = "Graz"
    url = reverse("marketing:customer_consent", args=[other.pk])
    assert client_for(rep).get(url).status_code == 404


def test_grant_with_proof_on_the_consent_page(marketing_user):
    customer = CustomerFactory()
    client = client_for(marketing_user)
    url = reverse("marketing:customer_consent", args=[customer.pk])
    response = client.post(
        url,
        {
            "action": "grant",
            "channel": "email",
            "purpose": "newsletter",
            "method": "paper",
            "source": "form 12/2025",
            "wording_version": "v3",
        },
    )
    assert response.status_code == 302
    consent = Consent.objects.get()
    assert (consent.status, consent.method, consent.wording_version) == ("pending", "paper", "v3")
    response = client.post(url, {"action": "confirm", "consent": consent.pk})
    consent.refresh_from_db()
    assert consent.is_active
    page = client.get(url).content.decode()
    assert "form 12/2025" in page and "Pending (awaiting confirmation) → Granted" in page


def test_adding_a_customer_who_withdrew_is_refused_with_a_message(marketing_user):
    customer = CustomerFactory(first_name="Franz", last_name="Gruber")
    grant(customer)
    services.consent_withdraw(customer=customer, channel="email", purpose="newsletter")
    campaign = running_campaign()
    client = client_for(marketing_user)
    response = client.post(
        reverse("marketing:campaign_add_customer", args=[campaign.pk]),
        {"customer_number": customer.customer_number},
        follow=True,
    )
    assert "Not sent: Franz Gruber withdrew consent for e-mail newsletter" in response.content.decode()
    assert not Touch.objects.exists()


def test_live_count_follows_the_rules(marketing_user, fake_facts):
    vienna = CustomerFactory(city="Wien")
    CustomerFactory(city="Graz")
    grant(vienna)
    fake_facts.overdue_days[vienna.pk] = 40
    client = client_for(marketing_user)
    url = reverse("marketing:segment_count")
    base = {"match": "all", "rule-0-field": "customer.city", "rule-0-op": "eq", "rule-0-value": "Wien"}
    assert 'data-count="1"' in client.post(url, base).content.decode()
    more = {**base, "rule-1-field": "test.billing.overdue_days", "rule-1-op": "gt", "rule-1-value": "50"}
    assert 'data-count="0"' in client.post(url, more).content.decode()
    bad = {**base, "rule-1-field": "test.billing.overdue_days", "rule-1-op": "gt", "rule-1-value": "x"}
    assert "Rule 2 (test.billing.overdue_days): bad value" in client.post(url, bad).content.decode()


def test_segment_editor_saves_rules_and_refuses_bad_ones(marketing_user):
    client = client_for(marketing_user)
    url = reverse("marketing:segment_create")
    data = {
        "name": "Vienna",
        "match": "all",
        "rule-0-field": "customer.city",
        "rule-0-op": "gt",
        "rule-0-value": "x",
    }
    response = client.post(url, data)
    assert (
        response.status_code == 200
        and "Rule 1 (customer.city): unknown operator" in response.content.decode()
    )
    assert not Segment.objects.exists()
    response = client.post(url, {**data, "rule-0-op": "eq"})
    assert response.status_code == 302
    assert Segment.objects.get().rules == [{"field": "customer.city", "op": "eq", "value": "x"}]


def test_member_preview_is_keyset_paginated(marketing_user):
    customers = CustomerFactory.create_batch(55, city="Wien")
    for c in customers:
        grant(c)
    segment = SegmentFactory(rules=[{"field": "customer.city", "op": "eq", "value": "Wien"}])
    client = client_for(marketing_user)
    url = reverse("marketing:segment_members", args=[segment.pk])
    first = client.get(url)
    assert len(first.context["members"]) == 50
    rest = client.get(url, {"after": first.context["next_after"]}, HTTP_HX_REQUEST="true")
    assert len(rest.context["members"]) == 5 and rest.context["next_after"] is None


def test_launch_from_the_page_sends_and_shows_the_funnel(marketing_user):
    customers = CustomerFactory.create_batch(3)
    for c in customers[:2]:
        grant(c)
    campaign = CampaignFactory(name="Spring offer", purpose="newsletter")
    client = client_for(marketing_user)
    client.post(reverse("marketing:campaign_action", args=[campaign.pk, "launch"]))
    assert Touch.objects.filter(campaign=campaign, status="sent").count() == 2
    page = client.get(campaign.get_absolute_url())
    assert [s["count"] for s in page.context["funnel"]][:2] == [2, 0]
    assert TimelineEvent.objects.filter(kind="email.sent").count() == 2


def test_list_pages_query_counts_do_not_grow(marketing_user, django_assert_max_num_queries):
    client = client_for(marketing_user)
    client.get(reverse("marketing:campaign_list"))
    counts = []
    for size in (1, 12):
        for _ in range(size):
            campaign = running_campaign(audience=SegmentFactory())
            customer = CustomerFactory()
            grant(customer)
            services.touch_record(campaign=campaign, customer=customer, status="sent")
        for name in ("marketing:campaign_list", "marketing:segment_list"):
            with django_assert_max_num_queries(12) as ctx:
                assert client.get(reverse(name)).status_code == 200
            counts.append(len(ctx))
        with django_assert_max_num_queries(14) as ctx:
            client.get(campaign.get_absolute_url())
        counts.append(len(ctx))
    assert counts[:3] == counts[3:]
