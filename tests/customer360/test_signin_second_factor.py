"""The TOTP second factor: setup with a QR code, verification at each sign-in, the policy per role."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from customer360.signin.models import RoleSecurityPolicy
from tests.conftest import authenticator_for, client_for, totp_code


def _sign_in(client, username):
    return client.post("/accounts/login/", {"username": username, "password": "demo"}, follow=True)


@pytest.mark.django_db
def test_the_admin_role_requires_a_second_factor_from_the_start():
    policy = RoleSecurityPolicy.objects.get(group__name="Admin")
    assert policy.require_second_factor is True
    assert not RoleSecurityPolicy.objects.filter(require_second_factor=True).exclude(group__name="Admin")


@pytest.mark.django_db
def test_an_admin_without_an_app_is_asked_to_set_it_up_and_can_use_nothing_else(client, admin_user, customer):
    response = _sign_in(client, "admin")
    assert response.redirect_chain[-1][0].startswith("/accounts/two-factor/setup/?next=")
    page = response.content.decode()
    assert "Set up your authenticator app" in page
    assert "Your role requires a second factor" in page
    assert "<svg" in page and 'id="totp-secret"' in page  # QR code drawn here, the key as text
    assert "http" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace("http://www.w3.org", "")
    for url in ("/customers/", f"/customers/{customer.pk}/", "/sources/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/two-factor/setup/?next=")
    api = client.get("/api/customers/")
    assert api.status_code == 403
    assert "authenticator app" in api.json()["detail"]
    htmx = client.get("/search/?q=gru", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 403
    assert "HX-Redirect" not in htmx  # the page that asked already leads to the setup
    assert 'class="topbar"' not in client.get("/accounts/two-factor/setup/").content.decode()


@pytest.mark.django_db
def test_setting_up_the_app_confirms_it_with_its_first_code(client, admin_user, caplog):
    _sign_in(client, "admin")
    response = client.get("/accounts/two-factor/setup/?next=/sources/")
    device = TOTPDevice.objects.get(user=admin_user)
    assert device.confirmed is False
    secret = response.content.decode().split('id="totp-secret">', 1)[1].split("<", 1)[0]
    assert secret.replace(" ", "") == __import__("base64").b32encode(device.bin_key).decode()

    with caplog.at_level(logging.INFO, logger="customer360.security"):
        wrong = client.post("/accounts/two-factor/setup/", {"token": "000000", "next": "/sources/"})
    assert wrong.status_code == 200
    assert "This code is not valid" in wrong.content.decode()
    assert f"second factor failed: user_id={admin_user.pk}" in caplog.text
    device.refresh_from_db()
    assert device.confirmed is False

    with time_machine.travel(timezone.now() + timedelta(seconds=60)):  # past the wrong code's throttle
        response = client.post(
            "/accounts/two-factor/setup/", {"token": totp_code(device), "next": "/sources/"}
        )
        assert response.status_code == 302
        assert response["Location"] == "/sources/"
        device.refresh_from_db()
        assert device.confirmed is True
        assert client.get("/sources/").status_code == 200
        assert client.get("/api/customers/").status_code == 200


@pytest.mark.django_db
def test_an_admin_with_an_app_confirms_each_sign_in_with_its_code(client, admin_user):
    device = authenticator_for(admin_user)
    response = _sign_in(client, "admin")
    assert response.redirect_chain[-1][0].startswith("/accounts/two-factor/?next=")
    assert "Confirm your sign-in" in response.content.decode()
    wrong = client.post("/accounts/two-factor/", {"token": "123456", "next": "/customers/"})
    assert "This code is not valid" in wrong.content.decode()
    assert client.get("/customers/").status_code == 302
    with time_machine.travel(timezone.now() + timedelta(seconds=60)):
        response = client.post("/accounts/two-factor/", {"token": totp_code(device), "next": "/customers/"})
        assert response["Location"] == "/customers/"
        assert client.get("/customers/").status_code == 200


@pytest.mark.django_db
def test_the_password_alone_never_connects_a_second_app(client, admin_user):
    authenticator_for(admin_user)
    _sign_in(client, "admin")
    response = client.get("/accounts/two-factor/setup/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/")
    assert TOTPDevice.objects.filter(user=admin_user).count() == 1


@pytest.mark.django_db
def test_the_next_address_must_be_on_this_site(client, admin_user):
    device = authenticator_for(admin_user)
    _sign_in(client, "admin")
    response = client.post(
        "/accounts/two-factor/", {"token": totp_code(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/customers/"


@pytest.mark.django_db
def test_a_role_without_the_policy_signs_in_with_the_password(client, rep):
    response = _sign_in(client, "rep")
    assert response.redirect_chain[-1][0] == "/customers/"


@pytest.mark.django_db
def test_an_admin_can_require_the_second_factor_for_another_role(client, rep, admin_user):
    admin = client_for(admin_user)  # staff admin, confirmed with the app
    sales = Group.objects.get(name="Sales")
    response = admin.post(
        "/admin/customer360/rolesecuritypolicy/add/", {"group": sales.pk, "require_second_factor": "on"}
    )
    assert response.status_code == 302
    assert RoleSecurityPolicy.objects.get(group=sales).require_second_factor is True
    response = _sign_in(client, "rep")
    assert response.redirect_chain[-1][0].startswith("/accounts/two-factor/setup/")


@pytest.mark.django_db
def test_a_policy_change_reaches_signed_in_users_within_a_minute(rep):
    client = client_for(rep)
    assert client.get("/customers/").status_code == 200
    RoleSecurityPolicy.objects.create(group=Group.objects.get(name="Sales"), require_second_factor=True)
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        response = client.get("/customers/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/setup/")


@pytest.mark.django_db
def test_anyone_may_connect_an_app_and_is_then_asked_for_it(client, rep):
    rep_client = client_for(rep)
    page = rep_client.get("/accounts/security/").content.decode()
    assert "Not connected." in page
    rep_client.get("/accounts/two-factor/setup/")
    device = TOTPDevice.objects.get(user=rep)
    rep_client.post("/accounts/two-factor/setup/", {"token": totp_code(device)})
    assert (
        "Connected: each sign-in is confirmed with a code."
        in rep_client.get("/accounts/security/").content.decode()
    )
    response = _sign_in(client, "rep")
    assert response.redirect_chain[-1][0].startswith("/accounts/two-factor/?next=")


@pytest.mark.django_db
def test_an_app_can_be_removed_only_where_the_role_does_not_require_it(rep, admin_user):
    rep_client = client_for(rep)
    authenticator_for(rep)
    rep_client.post("/accounts/two-factor/remove/")
    assert not TOTPDevice.objects.filter(user=rep).exists()
    admin = client_for(admin_user)
    response = admin.post("/accounts/two-factor/remove/", follow=True)
    assert "you can replace it, not remove it" in response.content.decode()
    assert TOTPDevice.objects.filter(user=admin_user).exists()


@pytest.mark.django_db
def test_token_api_clients_are_not_asked_for_a_second_factor(admin_user):
    from tests.conftest import token_client_for

    api = token_client_for(admin_user, scopes=["customers:read"])
    assert api.get("/api/customers/").status_code == 200
