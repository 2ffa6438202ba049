"""The app's own error pages and favicon, with DEBUG off as in every mode unless asked for."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import path

from tests.conftest import client_for


def _boom(request):
    raise RuntimeError("planted failure")


urlpatterns = [path("boom/", _boom), path("api/boom/", _boom)]
handler500 = "customer360.outage.server_error"


def test_debug_is_off_unless_asked_for():
    assert settings.DEBUG is False


@pytest.mark.django_db
def test_unknown_path_shows_the_apps_404_page(rep):
    response = client_for(rep).get("/nonexistent/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This page does not exist, or you may not see it." in html
    assert "URLconf" not in html and "Using the URLconf" not in html


@pytest.mark.django_db
def test_favicon_is_served_without_login():
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("c360/favicon.svg")


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.customer360.test_error_pages")
def test_a_server_error_shows_the_apps_500_page_in_german(rep):
    client = client_for(rep)
    client.raise_request_exception = False
    response = client.get("/boom/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Etwas ist schiefgelaufen" in html and "Traceback" not in html
    api = client.get("/api/boom/")
    assert api.status_code == 500 and api.json() == {"detail": "A server error occurred."}
