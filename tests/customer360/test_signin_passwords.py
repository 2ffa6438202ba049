"""Password change on the security page, and reset by e-mail with a link that works once."""

import re

import pytest
from django.core import mail

from tests.conftest import client_for

NEW = "Lavendel-Stiege-42"


def _can_log_in(username, password) -> bool:
    from django.test import Client

    response = Client().post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


@pytest.mark.django_db
def test_a_user_changes_the_password(rep):
    client = client_for(rep)
    wrong = client.post(
        "/accounts/password/change/", {"old_password": "nope", "new_password1": NEW, "new_password2": NEW}
    )
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    weak = client.post(
        "/accounts/password/change/", {"old_password": "demo", "new_password1": "123", "new_password2": "123"}
    )
    assert "This password is too short" in weak.content.decode()
    response = client.post(
        "/accounts/password/change/",
        {"old_password": "demo", "new_password1": NEW, "new_password2": NEW},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/accounts/security/"
    assert "Your password has been changed." in response.content.decode()
    assert client.get("/customers/").status_code == 200  # still signed in
    assert _can_log_in("rep", NEW)
    assert not _can_log_in("rep", "demo")


@pytest.mark.django_db
def test_a_password_reset_mail_carries_a_link_that_works_once(client, rep):
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password/reset/"' in page
    response = client.post("/accounts/password/reset/", {"email": "rep@example.com"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rep@example.com"]
    assert message.subject == "Customer 360: reset your password"
    assert "Hello rep" in message.body
    link = re.search(r"http://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)", message.body).group(1)

    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    form_url = form.redirect_chain[-1][0]
    done = client.post(form_url, {"new_password1": NEW, "new_password2": NEW}, follow=True)
    assert "Your new password is saved" in done.content.decode()
    assert _can_log_in("rep", NEW)
    again = client.get(link, follow=True)
    assert "This link is no longer valid" in again.content.decode()


@pytest.mark.django_db
def test_a_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, rep):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_reset_mail_is_in_the_users_language(client, rep):
    client.post("/i18n/setlang/", {"language": "de"})
    client.post("/accounts/password/reset/", {"email": "rep@example.com"})
    assert mail.outbox[0].subject == "Customer 360: Passwort zurücksetzen"
