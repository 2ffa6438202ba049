"""Marketing API: permissions (403/404), validation (400 naming the field), actions, query counts."""

import pytest
from rest_framework.test import APIClient

from customer360.models import TimelineEvent
from marketing import services
from marketing.models import Campaign, Consent, Touch
from tests.factories import CustomerFactory, UserFactory
from tests.marketing.factories import CampaignFactory, SegmentFactory, grant, running_campaign

pytestmark = pytest.mark.django_db

API = "/api/marketing"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [
        ("Sales", False, False),
        ("Service", False, False),
        ("Accounting", False, False),
        ("Marketing", True, True),
        ("Manager", True, False),
        ("Admin", True, True),
    ],
)
def test_campaign_endpoints_per_role(role, read, write, role_users):
    client = api(role_users[role])
    campaign = CampaignFactory()
    assert client.get(f"{API}/campaigns/").status_code == (200 if read else 403)
    assert client.get(f"{API}/segments/").status_code == (200 if read else 403)
    response = client.post(f"{API}/campaigns/", {"name": "X", "channel": "email", "purpose": "offers"})
    assert response.status_code == (201 if write else 403)
    response = client.post(f"{API}/campaigns/{campaign.pk}/launch/")
    assert response.status_code == (200 if write else 403)
    assert Campaign.objects.get(pk=campaign.pk).status == ("running" if write else "draft")


def test_consents_are_scoped_to_visible_customers(rep, rep2, marketing_user):
    mine, theirs = CustomerFactory(owner=rep), CustomerFactory(owner=rep2)
    rep2.profile.team = "Graz"
    rep2.profile.save()
    rep.profile.team = "Wien"
    rep.profile.save()
    grant(mine)
    theirs_consent = grant(theirs)
    client = api(rep)
    response = client.get(f"{API}/consents/")
    assert [c["customer"] for c in response.json()["results"]] == [mine.pk]
    assert client.get(f"{API}/consents/{theirs_consent.pk}/").status_code == 404
    # Sales may read but not change consent.
    assert (
        client.post(
            f"{API}/consents/withdraw/", {"customer": mine.pk, "channel": "email", "purpose": "newsletter"}
        ).status_code
        == 403
    )


def test_touches_of_invisible_customers_are_404(rep, rep2, manager):
    campaign = running_campaign()
    customer = CustomerFactory(owner=rep2)
    grant(customer)
    touch, _ = services.touch_record(campaign=campaign, customer=customer, status="sent")
    assert api(manager).get(f"{API}/touches/{touch.pk}/").status_code == 200
    service = UserFactory(username="svc2", role="Service")  # no marketing permissions at all
    assert api(service).get(f"{API}/touches/{touch.pk}/").status_code == 403


def test_grant_and_withdraw_actions(marketing_user):
    customer = CustomerFactory()
    client = api(marketing_user)
    response = client.post(
        f"{API}/consents/grant/",
        {
            "customer": customer.pk,
            "channel": "email",
            "purpose": "newsletter",
            "method": "web_form",
            "confirmed": True,
        },
        format="json",
    )
    assert response.status_code == 200 and response.json()["is_active"] is True
    response = client.post(
        f"{API}/consents/withdraw/",
        {"customer": customer.pk, "channel": "email", "purpose": "newsletter", "reason": "mail"},
        format="json",
    )
    assert response.json()["status"] == "withdrawn"
    assert TimelineEvent.objects.filter(kind__startswith="consent.").count() == 2
    response = client.post(
        f"{API}/consents/grant/", {"customer": customer.pk, "channel": "fax", "purpose": "offers"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"channel", "method"}
    assert (
        client.post(
            f"{API}/consents/grant/",
            {"customer": 999999, "channel": "email", "purpose": "offers", "method": "paper"},
        ).status_code
        == 404
    )


def test_record_touch_refuses_without_consent_and_is_idempotent(marketing_user):
    campaign = running_campaign(name="Premium newsletter")
    customer, refused = CustomerFactory(), CustomerFactory()
    grant(customer)
    grant(refused)
    services.consent_withdraw(customer=refused, channel="email", purpose="newsletter")
    client = api(marketing_user)
    url = f"{API}/campaigns/{campaign.pk}/record-touch/"
    response = client.post(url, {"customer": refused.pk, "status": "sent"})
    assert response.status_code == 400
    assert "withdrew consent for e-mail newsletter" in response.json()["customer"][0]
    assert (
        client.post(url, {"customer": customer.pk, "status": "clicked", "external_id": "e1"}).status_code
        == 201
    )
    assert (
        client.post(url, {"customer": customer.pk, "status": "clicked", "external_id": "e1"}).status_code
        == 200
    )
    assert TimelineEvent.objects.filter(kind="email.clicked").count() == 1
    assert client.post(url, {"customer": customer.pk, "status": "waved"}).json().keys() == {"status"}


def test_segments_validate_rules_and_count_members(marketing_user):
    client = api(marketing_user)
    bad = {"name": "B", "rules": [{"field": "customer.city", "op": "gt", "value": "Wien"}]}
    response = client.post(f"{API}/segments/", bad, format="json")
    assert response.status_code == 400
    assert "Rule 1 (customer.city): unknown operator" in response.json()["rules"][0]
    vienna = CustomerFactory(city="Wien")
    grant(vienna)
    good = {
        "name": "Vienna subscribers",
        "rules": [{"field": "customer.city", "op": "eq", "value": "Wien"}],
        "requires_channel": "email",
        "requires_purpose": "newsletter",
    }
    segment_id = client.post(f"{API}/segments/", good, format="json").json()["id"]
    assert client.get(f"{API}/segments/{segment_id}/count/").json() == {"count": 1}
    members = client.get(f"{API}/segments/{segment_id}/members/").json()["results"]
    assert [m["id"] for m in members] == [vienna.pk]
    half = {"name": "Half", "requires_channel": "email"}
    assert "requires_purpose" in client.post(f"{API}/segments/", half, format="json").json()


def test_campaign_validation_and_edit_rules(marketing_user):
    client = api(marketing_user)
    response = client.post(
        f"{API}/campaigns/",
        {
            "name": "X",
            "channel": "email",
            "purpose": "offers",
            "starts_at": "2026-05-02T10:00:00Z",
            "ends_at": "2026-05-01T10:00:00Z",
        },
    )
    assert response.status_code == 400 and "ends_at" in response.json()
    campaign = running_campaign()
    response = client.patch(f"{API}/campaigns/{campaign.pk}/", {"name": "Y"}, format="json")
    assert response.status_code == 400 and "status" in response.json()


def test_list_endpoints_query_counts_do_not_grow(marketing_user, django_assert_max_num_queries):
    client = api(marketing_user)
    for endpoint in ("campaigns", "touches", "consents", "segments"):
        client.get(f"{API}/{endpoint}/")  # warm the permission cache
    counts = []
    for size in (1, 15):
        for _ in range(size):
            campaign = running_campaign(audience=SegmentFactory())
            customer = CustomerFactory()
            grant(customer)
            services.touch_record(campaign=campaign, customer=customer, status="sent")
        for endpoint in ("campaigns", "touches", "consents", "segments"):
            with django_assert_max_num_queries(10) as ctx:
                response = client.get(f"{API}/{endpoint}/")
            assert response.status_code == 200
            counts.append(len(ctx))
    assert counts[:4] == counts[4:]
    assert Touch.objects.count() == 16 and Consent.objects.count() == 16
