"""Issue #19: notifications read in the reader's language, whoever wrote them and in which language;
the e-mail digest goes out in the recipient's language (their profile's), not the site's or the
worker's; notifications written as text before keys existed get their key back (data migration)."""

from __future__ import annotations

import datetime
import importlib

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.utils import translation

from collab import services
from collab.models import DepartmentRequest, DigestSubscription, Notification
from customer360.models import StaffProfile
from tests.collab.factories import accept_conduct, post
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("collab.migrations.0006_notification_message_key")


def test_a_mention_written_in_german_reads_in_each_readers_language(service_user, accounting_user):
    accept_conduct(service_user)
    with translation.override("de"):  # the sender works in German
        post(service_user, "@accounting Rechnung prüfen")
    note = Notification.objects.get(recipient=accounting_user)
    assert note.message == "%(name)s mentioned you: %(text)s"
    assert note.text.endswith("mentioned you: @accounting Rechnung prüfen")  # stored: English
    name = service_user.get_full_name() or service_user.get_username()
    with translation.override("en"):
        assert note.display_text == f"{name} mentioned you: @accounting Rechnung prüfen"
    with translation.override("de"):
        assert note.display_text == f"{name} hat Sie erwähnt: @accounting Rechnung prüfen"


def test_the_notifications_page_and_api_show_the_readers_language(service_user, accounting_user):
    accept_conduct(service_user)
    post(service_user, "@accounting hello")
    client = client_for(accounting_user)
    client.cookies["django_language"] = "de"
    page = client.get("/feed/notifications/").content.decode()
    assert "hat Sie erwähnt: @accounting hello" in page and "mentioned you" not in page
    client.cookies["django_language"] = "en"
    assert "mentioned you: @accounting hello" in client.get("/feed/notifications/").content.decode()
    client.cookies["django_language"] = "de"
    api = client.get("/api/collab/notifications/").json()
    rows = api["results"] if isinstance(api, dict) else api
    name = service_user.get_full_name() or service_user.get_username()
    assert [row["text"] for row in rows] == [f"{name} hat Sie erwähnt: @accounting hello"]


def test_a_request_names_its_kind_and_due_date_in_the_readers_language(service_user, accounting_user):
    accept_conduct(service_user)
    request = services.RequestData(
        to_department="accounting", kind="question", due_date=datetime.date(2027, 1, 13)
    )
    with translation.override("de"):
        post(service_user, "Please check the invoice", request=request)
    note = Notification.objects.get(recipient=accounting_user, kind="request")
    assert note.params["kind"] == "question"  # the code, not a label in the sender's language
    with translation.override("de"):
        assert note.display_text.startswith("Neu – Frage von")
    with translation.override("en"):
        assert note.display_text.startswith("New Question from")
    assert services.requests_remind_overdue(today=datetime.date(2027, 1, 20)) == 1
    overdue = Notification.objects.get(recipient=accounting_user, kind="overdue")
    with translation.override("de"):
        assert overdue.display_text == "Überfällig seit 13.01.2027: Please check the invoice"
    with translation.override("en"):
        assert overdue.display_text == "Overdue since 13 Jan 2027: Please check the invoice"


@pytest.mark.parametrize(
    ("language", "subject", "line"),
    [
        ("de", "Customer 360: 1 ungelesene Benachrichtigungen", "hat Sie erwähnt: @accounting hello"),
        ("en", "Customer 360: 1 unread notifications", "mentioned you: @accounting hello"),
    ],
)
def test_the_digest_is_written_in_the_recipients_language(
    service_user, accounting_user, language, subject, line
):
    accept_conduct(service_user)
    post(service_user, "@accounting hello")
    DigestSubscription.objects.create(user=accounting_user, enabled=True)
    StaffProfile.objects.update_or_create(user=accounting_user, defaults={"language": language})
    other = "en" if language == "de" else "de"
    with translation.override(other):  # the worker (or the site) speaks the other language
        assert services.digest_send(user_id=accounting_user.pk) == 1
    assert mail.outbox[0].subject == subject
    assert line in mail.outbox[0].body


def test_the_language_switch_keeps_the_choice_on_the_profile(accounting_user):
    client = client_for(accounting_user)
    client.post("/i18n/setlang/", {"language": "de", "next": "/"})
    assert StaffProfile.objects.get(user=accounting_user).language == "de"
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert StaffProfile.objects.get(user=accounting_user).language == "en"
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})  # not a language of the app
    assert StaffProfile.objects.get(user=accounting_user).language == "en"


def test_old_notifications_get_their_key_back(service_user, accounting_user):
    name = "Erika Muster"
    written = {
        f"{name} mentioned you: hello": ("%(name)s mentioned you: %(text)s", {"name": name, "text": "hello"}),
        f"{name} hat kommentiert: gut": None,  # filled below from the German catalogue
        "Überfällig seit 2027-01-13: bitte prüfen": (
            "Overdue since %(due)s: %(text)s",
            {"due": "2027-01-13", "text": "bitte prüfen"},
        ),
        "Something else entirely": ("", {}),
    }
    with translation.override("de"):
        commented = translation.gettext("%(name)s commented: %(text)s") % {"name": name, "text": "gut"}
        kind = str(DepartmentRequest.Kind("question").label)
        new_request = translation.gettext("New %(kind)s from %(name)s: %(text)s") % {
            "kind": kind,
            "name": name,
            "text": "Frage",
        }
    written.pop(f"{name} hat kommentiert: gut")
    written[commented] = ("%(name)s commented: %(text)s", {"name": name, "text": "gut"})
    written[new_request] = (
        "New %(kind)s from %(name)s: %(text)s",
        {"kind": "question", "name": name, "text": "Frage"},
    )
    rows = [
        Notification.objects.create(
            recipient=accounting_user, kind="mention", source_key=f"old:{i}", text=text
        )
        for i, text in enumerate(written)
    ]
    MIGRATION.BATCH = 2  # several batches
    MIGRATION.forwards(django_apps, None)
    for row in rows:
        row.refresh_from_db()
        assert (row.message, row.params) == written[row.text], row.text
    with translation.override("en"):
        shown = {row.text: row.display_text for row in rows}
    assert shown[commented] == f"{name} commented: gut"
    assert shown["Überfällig seit 2027-01-13: bitte prüfen"] == "Overdue since 13 Jan 2027: bitte prüfen"
    assert shown["Something else entirely"] == "Something else entirely"


def test_erasure_scrubs_the_person_from_a_notifications_values(service_user, accounting_user):
    from types import SimpleNamespace

    from collab import privacy
    from customer360.privacy.text import Needles
    from tests.collab.factories import give_department_access
    from tests.factories import CustomerFactory

    customer = CustomerFactory(first_name="Franziska", last_name="Huber")
    give_department_access(customer, "service")
    accept_conduct(service_user)
    post(service_user, f"@accounting Franziska Huber called, see #{customer.customer_number}")
    note = Notification.objects.get(recipient=accounting_user)
    assert "Huber" in note.params["text"]
    privacy.erase(customer, SimpleNamespace(needles=Needles.of(customer, [])))
    note.refresh_from_db()
    assert "Huber" not in note.params["text"] and "Huber" not in note.text
    with translation.override("de"):
        assert "Huber" not in note.display_text


def test_the_demos_notifications_read_in_german():
    from django.core.management import call_command

    call_command("seed_demo", customers=40, seed=7, today="2026-11-27")
    resolved = list(Notification.objects.filter(kind="resolved"))
    assert resolved and all(n.message == "%(name)s resolved your request: %(text)s" for n in resolved)
    with translation.override("de"):
        assert all(" hat Ihre Anfrage " in n.display_text for n in resolved)
    with translation.override("en"):
        assert all(" resolved your request: " in n.display_text for n in resolved)
