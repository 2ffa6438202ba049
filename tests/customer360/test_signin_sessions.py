"""Session limits (8 h absolute, 30 min idle, both configurable), the login requirement, open pages."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from customer360.signin.middleware import LAST_SEEN_AT
from tests.conftest import client_for


def _at(start, **delta):
    return time_machine.travel(start + timedelta(**delta), tick=False)


@pytest.mark.django_db
def test_thirty_idle_minutes_end_the_session(rep):
    start = timezone.now()
    with _at(start):
        client = client_for(rep)
    with _at(start, minutes=29):
        assert client.get("/customers/").status_code == 200
    with _at(start, minutes=29 + 30):
        response = client.get("/customers/", follow=True)
    assert response.redirect_chain[0][0].startswith("/accounts/login/?next=/customers/")
    assert "Your session ended after 30 minutes without activity" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_activity_keeps_the_session_until_eight_hours_after_the_login(rep):
    start = timezone.now()
    with _at(start):
        client = client_for(rep)
    for minutes in range(20, 8 * 60, 20):
        with _at(start, minutes=minutes):
            assert client.get("/customers/").status_code == 200, minutes
    with _at(start, hours=8, seconds=1):
        response = client.get("/customers/", follow=True)
    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert "Your session ended after 8 hours" in response.content.decode()


@pytest.mark.django_db
def test_both_limits_come_from_the_settings(rep, settings):
    settings.C360_SESSION_IDLE_TIMEOUT = 300
    settings.C360_SESSION_MAX_AGE = 600
    start = timezone.now()
    with _at(start):
        client = client_for(rep)
    with _at(start, minutes=4):
        assert client.get("/customers/").status_code == 200
    with _at(start, minutes=8):
        assert client.get("/customers/").status_code == 200
    with _at(start, minutes=10):
        assert client.get("/customers/").status_code == 302
    client = client_for(rep)
    with _at(timezone.now(), minutes=6):
        response = client.get("/customers/", follow=True)
    assert "after 5 minutes without activity" in response.content.decode()


@pytest.mark.django_db
def test_the_last_seen_time_is_written_at_most_once_a_minute(rep):
    start = timezone.now()
    with _at(start):
        client = client_for(rep)
        first = client.session[LAST_SEEN_AT]
    with _at(start, seconds=30):
        client.get("/customers/")
        assert client.session[LAST_SEEN_AT] == first
        # No session write at all: the response sets no new session cookie.
        assert "sessionid" not in client.get("/customers/").cookies
    with _at(start, seconds=61):
        client.get("/customers/")
        assert client.session[LAST_SEEN_AT] == first + 61


@pytest.mark.django_db
def test_an_htmx_request_after_the_session_ended_reloads_the_login_page(rep):
    start = timezone.now()
    with _at(start):
        client = client_for(rep)
    with _at(start, minutes=31):
        response = client.get(
            "/search/?q=gru",
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL="http://testserver/customers/?page=2",
        )
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Fcustomers%2F%3Fpage%3D2"


@pytest.mark.django_db
def test_pages_open_without_login(client):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/accounts/password/reset/").status_code == 200
    assert client.get("/health/?format=json").status_code in {200, 503}
    response = client.post("/i18n/setlang/", {"language": "de", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    for url in ("/accounts/security/", "/accounts/password/change/", "/accounts/two-factor/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "login" in response["Location"], url


@pytest.mark.django_db
def test_the_api_answers_json_not_a_redirect_without_login(client):
    for url in ("/api/customers/", "/api/insights/recommendations/"):
        response = client.get(url)
        assert response.status_code in {401, 403}, url
        assert response["Content-Type"].startswith("application/json"), url


@pytest.mark.django_db
def test_the_bells_background_poll_does_not_keep_an_idle_session(rep):
    """A tab left open polls the bell every 30 s: those requests are not activity. At minute 31 the
    poll itself ends the session and sends the page to the login, which says why."""
    from django.urls import reverse

    poll = {"HTTP_HX_REQUEST": "true", "HTTP_X_C360_BACKGROUND": "true"}
    start = timezone.now()
    with _at(start):
        client = client_for(rep)
        first = client.session[LAST_SEEN_AT]
    for minutes in (5, 15, 29):
        with _at(start, minutes=minutes):
            assert client.get(reverse("collab:bell"), **poll).status_code == 200
    assert client.session[LAST_SEEN_AT] == first  # never touched by the polls
    with _at(start, minutes=31):
        response = client.get(reverse("collab:bell"), **poll)
        assert response["HX-Redirect"].startswith("/accounts/login/")
        login = client.get(response["HX-Redirect"])
    assert "Your session ended after 30 minutes without activity" in login.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_page_marks_the_bells_requests_as_background(rep):
    page = client_for(rep).get("/customers/").content.decode()
    assert 'hx-headers=\'{"X-C360-Background": "true"}\'' in page
