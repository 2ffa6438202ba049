"""Login, the root URL, the 403 page, health and the language switch."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.utils import timezone

from customer360.models import WorkerHeartbeat
from customer360.views import permission_denied
from tests.conftest import client_for


@pytest.mark.django_db
def test_root_leads_to_the_login_page(client):
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert b'name="password"' in response.content


@pytest.mark.django_db
def test_every_page_needs_a_login(client, customer):
    for url in ("/customers/", f"/customers/{customer.pk}/", "/search/?q=gru"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_rep_logs_in_and_sees_the_customer_list(client, rep, customer):
    response = client.post("/accounts/login/", {"username": "rep", "password": "demo"}, follow=True)
    assert response.redirect_chain[-1][0] == "/customers/"
    assert "Franz Gruber" in response.content.decode()


@pytest.mark.django_db
def test_403_page_says_what_is_missing(rep):
    request = RequestFactory().get("/billing/")
    request.user = rep
    response = permission_denied(
        request, PermissionDenied("You need the Accounting role to record payments.")
    )
    assert response.status_code == 403
    assert "You need the Accounting role to record payments." in response.content.decode()


@pytest.mark.django_db
def test_health_reports_each_check_as_json(client, settings):
    response = client.get("/health/?format=json")
    body = response.json()
    # Redis (cache and broker in production) is checked on its own when it is configured.
    expected = {"database", "broker", "worker"} | ({"redis"} if settings.REDIS_URL else set())
    assert set(body["checks"]) == expected
    assert body["checks"]["database"]["ok"] is True
    # No worker has written a heartbeat in this test database.
    assert body["checks"]["worker"] == {"ok": False, "detail": "no heartbeat yet"}
    assert response.status_code == 503

    WorkerHeartbeat.objects.create(name="celery@test", seen_at=timezone.now())
    body = client.get("/health/?format=json").json()
    assert body["checks"]["worker"]["ok"] is True


@pytest.mark.django_db
def test_stale_heartbeat_is_not_ok(client, settings):
    settings.C360_WORKER_HEARTBEAT_MAX_AGE = 60
    WorkerHeartbeat.objects.create(name="celery@old", seen_at=timezone.now() - timezone.timedelta(minutes=5))
    assert client.get("/health/?format=json").json()["checks"]["worker"]["ok"] is False


@pytest.mark.django_db
def test_language_switch_shows_german_labels(rep, customer):
    client = client_for(rep)
    client.post("/i18n/setlang/", {"language": "de", "next": "/customers/"})
    page = client.get("/customers/").content.decode()
    assert 'lang="de"' in page
    assert "Kunden" in page
