"""Personal API tokens: hashed, expiring, scoped, revocable, last use shown; never more than the user."""

import datetime
import hashlib
import re

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from customer360.api.tokens import api_area_of
from customer360.api.urls import urlpatterns as api_urlpatterns
from customer360.models import API_AREAS, ApiToken
from tests.conftest import client_for, token_client_for
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r"c360u_[A-Za-z0-9_-]{40,}")


def _create(client, **overrides):
    data = {"name": "nightly export", "days": "30", "scope_customers": "read", "scope_crm": "write"}
    return client.post("/account/api-tokens/", {**data, **overrides})


def _bearer(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_page_creates_a_token_shows_the_secret_once_and_stores_only_its_hash(rep):
    page = client_for(rep)
    response = _create(page)
    assert response.status_code == 200
    secret = SECRET_RE.search(response.content.decode()).group(0)
    token = ApiToken.objects.get(user=rep)
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert secret.startswith(token.prefix) and len(token.prefix) < 16
    assert token.scopes == ["crm:read", "crm:write", "customers:read"]
    assert token.expires_at.date() == (timezone.now() + datetime.timedelta(days=30)).date()
    listing = page.get("/account/api-tokens/").content.decode()
    assert secret not in listing
    assert token.prefix in listing and "nightly export" in listing
    assert "Customers and timeline: read" in listing and "Sales and service: read and write" in listing
    assert "never" in listing  # last use


def test_the_form_refuses_a_token_without_scopes_or_past_the_maximum_lifetime(rep, settings):
    settings.C360_API_TOKEN_MAX_DAYS = 60
    page = client_for(rep)
    no_scope = _create(page, scope_customers="", scope_crm="")
    assert no_scope.status_code == 400 and "at least one area" in no_scope.content.decode()
    too_long = _create(page, days="61")
    assert too_long.status_code == 400 and "60" in too_long.content.decode()
    assert not ApiToken.objects.exists()
    assert 'value="60"' in page.get("/account/api-tokens/").content.decode()  # default 90 capped at 60


def test_bearer_token_reads_and_records_the_last_use(rep, customer):
    client = token_client_for(rep, scopes=["customers:read"])
    assert ApiToken.objects.get(user=rep).last_used_at is None
    listing = client.get("/api/customers/")
    assert listing.status_code == 200
    assert customer.pk in [c["id"] for c in listing.json()["results"]]
    assert ApiToken.objects.get(user=rep).last_used_at is not None
    assert client.get(f"/api/customers/{customer.pk}/").json()["id"] == customer.pk


def test_a_token_never_sees_more_customers_than_its_user(rep, rep2):
    foreign = CustomerFactory(owner=rep2)
    mine = CustomerFactory(owner=rep)
    session_ids = {c["id"] for c in client_for(rep).get("/api/customers/").json()["results"]}
    token_ids = {c["id"] for c in token_client_for(rep).get("/api/customers/").json()["results"]}
    assert token_ids == session_ids and mine.pk in token_ids and foreign.pk not in token_ids
    assert token_client_for(rep).get(f"/api/customers/{foreign.pk}/").status_code == 404


def test_last_use_is_written_at_most_once_a_minute(rep, customer):
    client = token_client_for(rep, scopes=["customers:read"])
    start = timezone.now() + datetime.timedelta(hours=1)
    with time_machine.travel(start, tick=False):
        client.get("/api/customers/")
        first = ApiToken.objects.get().last_used_at
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        client.get("/api/customers/")
        assert ApiToken.objects.get().last_used_at == first
    with time_machine.travel(start + datetime.timedelta(seconds=90), tick=False):
        client.get("/api/customers/")
        assert ApiToken.objects.get().last_used_at > first


def test_scopes_read_for_safe_methods_write_for_the_others(rep, customer):
    reader = token_client_for(rep, scopes=["customers:read"])
    refused = reader.post("/api/customers/", {})
    assert refused.status_code == 403 and "customers:write" in refused.json()["detail"]
    writer = token_client_for(rep, scopes=["customers:read", "customers:write"])
    assert writer.post("/api/customers/", {}).status_code == 405  # past the scope check: read-only API
    other_area = token_client_for(rep, scopes=["crm:read", "crm:write"])
    denied = other_area.get("/api/customers/")
    assert denied.status_code == 403 and "customers:read" in denied.json()["detail"]


def test_every_api_area_has_a_scope():
    mounted = {str(p.pattern).strip("/") for p in api_urlpatterns} - {"", "sources"}
    assert mounted <= set(API_AREAS)
    assert "customers" in API_AREAS
    assert api_area_of("/api/crm/tickets/") == "crm"
    assert api_area_of("/api/schema/") is None and api_area_of("/customers/") is None


@pytest.mark.parametrize("state", ["expired", "revoked", "inactive user", "unknown", "plain token header"])
def test_unusable_tokens_answer_401(rep, customer, state):
    token_client_for(rep)  # a working token exists alongside
    token = ApiToken.objects.get()
    secret = token_client_for(rep)._credentials["HTTP_AUTHORIZATION"].split()[1]
    token = ApiToken.objects.exclude(pk=token.pk).get()
    header = f"Bearer {secret}"
    if state == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    elif state == "revoked":
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    elif state == "inactive user":
        rep.is_active = False
        rep.save()
    elif state == "unknown":
        header = "Bearer c360u_" + "x" * 43
    else:
        header = f"Token {secret}"  # DRF's old TokenAuthentication is gone
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/customers/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoking_stops_the_token_at_once_and_only_the_owner_can_revoke(rep, rep2, customer):
    client = token_client_for(rep, scopes=["customers:read"])
    token = ApiToken.objects.get()
    assert client_for(rep2).post(f"/account/api-tokens/{token.pk}/revoke/").status_code == 404
    assert client.get("/api/customers/").status_code == 200
    response = client_for(rep).post(f"/account/api-tokens/{token.pk}/revoke/", follow=True)
    assert "is revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/customers/").status_code == 401
    assert "revoked" in client_for(rep).get("/account/api-tokens/").content.decode()


def test_admins_see_and_revoke_every_token_in_the_admin(rep, admin_user):
    token_client_for(rep)
    token = ApiToken.objects.get()
    admin = client_for(admin_user)
    changelist = admin.get("/admin/customer360/apitoken/")
    assert changelist.status_code == 200 and token.prefix in changelist.content.decode()
    admin.post(
        "/admin/customer360/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_the_user_menu_links_to_the_token_page(rep):
    page = client_for(rep).get("/customers/").content.decode()
    assert 'id="menu-api-tokens" href="/account/api-tokens/"' in page or 'href="/account/api-tokens/"' in page


def test_the_token_page_speaks_german(rep):
    token_client_for(rep, scopes=["customers:read", "crm:read", "crm:write"])
    page = client_for(rep).get("/account/api-tokens/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    for text in (
        "Neuer Token",
        "Kunden und Zeitleiste: lesen",
        "Vertrieb und Service: lesen und schreiben",
        "Widerrufen",
    ):
        assert text in page


def test_token_page_and_token_requests_keep_their_query_counts(rep, customer, django_assert_max_num_queries):
    for _ in range(5):
        token_client_for(rep, scopes=["customers:read"])
    page = client_for(rep)
    with django_assert_max_num_queries(8):
        assert page.get("/account/api-tokens/").content.decode().count('data-token="') == 5
    client = token_client_for(rep, scopes=["customers:read"])
    client.get("/api/customers/")  # the first use writes last_used_at
    with django_assert_max_num_queries(7):  # token with its user, roles, the page of customers, access log
        assert client.get("/api/customers/").status_code == 200


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/account/api-tokens/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("area", "read_url", "write_url"),
    [
        ("crm", "/api/crm/tickets/", "/api/crm/tickets/"),
        ("billing", "/api/billing/invoices/", "/api/billing/invoices/"),
        ("marketing", "/api/marketing/consents/", "/api/marketing/consents/grant/"),
        ("collab", "/api/collab/posts/", "/api/collab/posts/"),
        ("insights", "/api/insights/recommendations/", "/api/insights/customers/1/rescore/"),
    ],
)
def test_every_area_checks_the_token_scope_on_top_of_the_users_permissions(
    admin_user, area, read_url, write_url
):
    """The department APIs share the core permission class: a token reads and writes only the areas
    its scopes name, whatever its user may do."""
    other = token_client_for(admin_user, scopes=["customers:read"])
    refused = other.get(read_url)
    assert refused.status_code == 403 and f"{area}:read" in refused.json()["detail"]
    reader = token_client_for(admin_user, scopes=[f"{area}:read"])
    assert reader.get(read_url).status_code == 200
    refused = reader.post(write_url, {}, format="json")
    assert refused.status_code == 403 and f"{area}:write" in refused.json()["detail"]


def test_dashboards_api_needs_the_analytics_scope(manager):
    assert token_client_for(manager, scopes=["crm:read"]).get("/api/analytics/topics/").status_code == 403
    assert (
        token_client_for(manager, scopes=["analytics:read"]).get("/api/analytics/topics/").status_code == 200
    )
