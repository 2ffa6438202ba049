"""Sign-in lockout (django-axes): per account and per address, the right password is refused with a
clear message, each failure is logged without the password, a cool-off or password reset ends it."""

import logging
import re
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.core import mail
from django.utils import timezone

from tests.factories import UserFactory

LOCKED = "Sign-in is locked after 10 failed attempts"


def _login(client, username, password, ip="10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_ten_wrong_passwords_lock_the_account_from_any_address(client, rep):
    for n in range(9):
        response = _login(client, "rep", f"wrong-{n}", ip=f"10.0.1.{n}")
        assert response.status_code == 200  # the form again, "didn't match"
        assert "match. Please try again." in response.content.decode()
    response = _login(client, "rep", "wrong-9", ip="10.0.1.9")
    assert response.status_code == 429  # the tenth failure locks
    response = _login(client, "rep", "demo", ip="10.0.2.1")  # right password, a fresh address
    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED in page
    assert "Try again in 30 minutes" in page
    assert "_auth_user_id" not in client.session
    # Another account at the same addresses signs in as usual.
    UserFactory(username="petra", role="Service")
    assert _login(client, "petra", "demo", ip="10.0.1.3").status_code == 302


@pytest.mark.django_db
def test_nine_failures_do_not_lock_and_a_success_starts_counting_again(client, rep):
    for n in range(9):
        _login(client, "rep", f"wrong-{n}")
    assert _login(client, "rep", "demo").status_code == 302
    client.post("/accounts/logout/")
    for n in range(9):
        _login(client, "rep", f"wrong-{n}")
    assert _login(client, "rep", "demo").status_code == 302


@pytest.mark.django_db
def test_ten_failures_from_one_address_lock_that_address(client, rep):
    for n in range(10):
        _login(client, f"guess{n}", "wrong", ip="192.0.2.7")
    response = _login(client, "rep", "demo", ip="192.0.2.7")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert _login(client, "rep", "demo", ip="192.0.2.8").status_code == 302


@pytest.mark.django_db
def test_the_failure_limit_comes_from_the_settings(client, rep, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        _login(client, "rep", f"wrong-{n}")
    response = _login(client, "rep", "demo")
    assert response.status_code == 429
    assert "locked after 3 failed attempts" in response.content.decode()


@pytest.mark.django_db
def test_each_failure_is_logged_with_username_and_address_never_the_password(client, rep, caplog):
    with caplog.at_level(logging.INFO, logger="customer360.security"):
        _login(client, "rep", "Tr0ub4dor&3-secret", ip="198.51.100.23")
    lines = [r.getMessage() for r in caplog.records if r.name == "customer360.security"]
    assert lines == ["sign-in failed: username='rep' ip=198.51.100.23"]
    assert "Tr0ub4dor" not in caplog.text
    failure = AccessFailureLog.objects.get()
    assert (failure.username, failure.ip_address) == ("rep", "198.51.100.23")
    assert "Tr0ub4dor" not in failure.__dict__.__repr__()
    assert "Tr0ub4dor" not in AccessAttempt.objects.get().post_data


@pytest.mark.django_db
def test_the_lockout_is_logged(client, rep, caplog):
    with caplog.at_level(logging.INFO, logger="customer360.security"):
        for n in range(10):
            _login(client, "rep", f"wrong-{n}")
    assert "sign-in locked out: username='rep' ip=10.0.0.1" in caplog.text


@pytest.mark.django_db
def test_the_lockout_ends_after_the_cool_off_time(client, rep):
    for n in range(10):
        _login(client, "rep", f"wrong-{n}")
    assert _login(client, "rep", "demo").status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert _login(client, "rep", "demo").status_code == 302


@pytest.mark.django_db
def test_a_password_reset_ends_the_lockout_of_the_account(client, rep):
    for n in range(10):
        _login(client, "rep", f"wrong-{n}", ip=f"10.0.3.{n}")
    client.post("/accounts/password/reset/", {"email": "rep@example.com"})
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]
    client.post(form_url, {"new_password1": "a-new-Pa55phrase", "new_password2": "a-new-Pa55phrase"})
    assert _login(client, "rep", "a-new-Pa55phrase", ip="10.0.4.1").status_code == 302


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, rep, settings):
    settings.C360_TRUSTED_PROXY_COUNT = 1
    for n in range(10):
        # The client made up the first entry; the proxy appended the address it saw.
        client.post(
            "/accounts/login/",
            {"username": f"guess{n}", "password": "x"},
            REMOTE_ADDR="10.9.9.9",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.5",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    # Another client behind the same proxy is not locked out; the locked one is.
    forwarded = {"REMOTE_ADDR": "10.9.9.9", "HTTP_X_FORWARDED_FOR": "203.0.113.6"}
    assert (
        client.post("/accounts/login/", {"username": "rep", "password": "demo"}, **forwarded).status_code
        == 302
    )
    client.logout()
    forwarded["HTTP_X_FORWARDED_FOR"] = "203.0.113.5"
    assert (
        client.post("/accounts/login/", {"username": "rep", "password": "demo"}, **forwarded).status_code
        == 429
    )


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "10.9.9.9"),  # no proxy: what a client writes there is ignored
        (1, "198.51.100.1, 203.0.113.5", "203.0.113.5"),
        (2, "198.51.100.1, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        (2, "203.0.113.5", "10.9.9.9"),  # fewer entries than proxies: the direct peer
        (1, "", "10.9.9.9"),
    ],
)
def test_the_client_address_is_read_behind_the_trusted_proxies(settings, rf, proxies, forwarded, expected):
    from customer360.signin.security_log import client_ip

    settings.C360_TRUSTED_PROXY_COUNT = proxies
    request = rf.get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
