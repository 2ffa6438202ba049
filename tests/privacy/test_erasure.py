"""Erasure end to end: two people decide, the worker erases everywhere, invoices stay under a
pseudonym, and the person never comes back through an import, the bulk API or a webhook."""

import json
import os
import shutil
import subprocess
import time

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import ProtectedError
from django.test import Client

from billing.models import Invoice, Payment
from collab.models import Comment, Post
from customer360 import search
from customer360.models import Customer, CustomerIdentity, TimelineEvent
from customer360.privacy import tasks
from customer360.privacy.models import ErasureRequest, SuppressionEntry
from customer360.sources import services as source_services
from insights.models import Recommendation
from marketing.models import Consent
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.privacy.world import CSV, EMAIL, MAPPING, PHONE, build_world
from tests.sources.factories import DataSourceFactory
from tests.sources.helpers import run_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_admin(db):
    return UserFactory(username="admin2", role="Admin", is_staff=True)


def _request_and_approve(customer, requester, approver) -> ErasureRequest:
    page = client_for(requester).post(
        f"/customers/{customer.pk}/privacy/", {"action": "erase", "reason": "Request by letter of 3 May"}
    )
    assert page.status_code == 302
    request = ErasureRequest.objects.get(customer=customer)
    own = client_for(requester).post(f"/customers/{customer.pk}/privacy/erasure/{request.pk}/approve/")
    assert own.status_code == 302
    request.refresh_from_db()
    assert request.status == "requested" and request.approved_by is None  # the requester cannot approve
    client_for(approver).post(f"/customers/{customer.pk}/privacy/erasure/{request.pk}/approve/")
    request.refresh_from_db()
    assert (request.status, request.approved_by) == ("approved", approver)
    tasks.execute_erasure(request.pk)
    request.refresh_from_db()
    assert request.status == "executed" and request.executed_at
    return request


def _file_text(name: str) -> str:
    with default_storage.open(name, "rb") as handle:
        return handle.read().decode("utf-8-sig")


def _push(source, token, records):
    return Client().post(
        f"/api/sources/{source.slug}/records",
        json.dumps({"records": records}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def _webhook(source, secret, records):
    body = json.dumps({"records": records}).encode()
    timestamp = str(int(time.time()))
    return Client().post(
        f"/api/sources/{source.slug}/webhook",
        body,
        content_type="application/json",
        HTTP_X_C360_TIMESTAMP=timestamp,
        HTTP_X_C360_SIGNATURE=source_services.webhook_signature(secret, timestamp, body),
    )


def test_erasure_end_to_end(rep, admin_user, second_admin):
    world = build_world(rep)
    customer = world.customer
    number = customer.customer_number
    request = _request_and_approve(customer, admin_user, second_admin)
    customer.refresh_from_db()

    # The profile is a pseudonym; search by name, e-mail or phone finds nothing.
    assert (customer.first_name, customer.last_name, customer.email, customer.phone) == ("", "", "", "")
    assert customer.customer_number == f"ERASED-{request.pk:06d}"
    for query in ("Franziska Huber", "Huber", EMAIL, "0664 1234567", number):
        assert not search.filter_customers(Customer.objects.all(), query).filter(pk=customer.pk).exists()
    assert not CustomerIdentity.objects.filter(customer=customer).exists()
    # Timeline: kinds and dates stay, the text goes.
    events = TimelineEvent.objects.filter(customer=customer)
    assert events.exists() and set(events.values_list("title", flat=True)) == {"[erased]"}
    assert not any("Huber" in (e.summary + json.dumps(e.payload)) for e in events)
    # Feed: no reference, no name, no e-mail.
    assert not Post.objects.filter(customers=customer).exists()
    for text in [
        *Post.objects.values_list("body", "body_html"),
        *Comment.objects.values_list("body", "body_html"),
    ]:
        assert number not in "".join(text) and EMAIL not in "".join(text)
    # Uploads: the line naming the person is gone, the other person's line stays.
    upload = _file_text(world.run.file.name)
    assert EMAIL not in upload and "Huber" not in upload and "otto@example.at" in upload
    # Department data: the person's words, consents and training rows are gone.
    assert not Consent.objects.filter(customer=customer).exists()
    assert not Recommendation.objects.filter(customer=customer).exists()
    # Invoices stay with the pseudonym and the right totals.
    invoice = Invoice.objects.get(pk=world.invoice.pk)
    assert invoice.customer_id == customer.pk and invoice.customer.customer_number.startswith("ERASED-")
    assert (invoice.gross_total, invoice.paid_amount) == (world.gross, world.paid)
    assert Payment.objects.get(invoice=invoice).reference == "[erased] [erased]"
    # Suppression: hashes only, e-mail, phone and the external id.
    entries = SuppressionEntry.objects.filter(request=request)
    assert set(entries.values_list("kind", flat=True)) == {"email", "phone", "external_id"}
    assert not entries.filter(digest__icontains="huber").exists()

    # The person never comes back: file import, bulk API, webhook.
    before = Customer.objects.count()
    rerun = run_import(world.source, CSV, MAPPING, name="kunden-again.csv")
    assert (rerun.created, rerun.failed, rerun.unchanged) == (0, 1, 1)
    errors = _file_text(rerun.error_file.name)
    assert f"suppressed by erasure request {request.pk}" in errors
    api = DataSourceFactory(slug="shop", kind="api", target="customers", department="sales")
    token = source_services.source_issue_token(source=api)
    pushed = _push(api, token, [{"external_id": "S-1", "email": EMAIL.upper(), "first_name": "Franziska"}])
    assert pushed.status_code == 200
    assert pushed.json()["suppressed"] == 1 and pushed.json()["accepted"] == 0
    assert pushed.json()["results"][0]["reason"] == f"suppressed by erasure request {request.pk}"
    hook = DataSourceFactory(slug="newsletter", kind="webhook", target="events", department="marketing")
    secret = source_services.source_issue_webhook_secret(source=hook)
    delivered = _webhook(
        hook, secret, [{"event_id": "m1", "phone": "+43 664 1234567", "kind": "email.opened"}]
    )
    assert delivered.status_code == 200 and delivered.json()["suppressed"] == 1
    assert Customer.objects.count() == before
    assert not Customer.objects.filter(email=EMAIL).exists()


def test_rejected_requests_erase_nothing_and_only_admins_decide(rep, admin_user, second_admin):
    world = build_world(rep)
    client_for(admin_user).post(
        f"/customers/{world.customer.pk}/privacy/", {"action": "erase", "reason": "x"}
    )
    request = ErasureRequest.objects.get()
    assert (
        client_for(rep)
        .post(f"/customers/{world.customer.pk}/privacy/erasure/{request.pk}/approve/")
        .status_code
        == 403
    )
    client_for(second_admin).post(f"/customers/{world.customer.pk}/privacy/erasure/{request.pk}/reject/")
    request.refresh_from_db()
    assert request.status == "rejected"
    tasks.execute_erasure(request.pk)  # a stray task does nothing
    world.customer.refresh_from_db()
    assert world.customer.email == EMAIL


def test_a_customer_cannot_be_deleted_directly(rep):
    world = build_world(rep)
    with pytest.raises(ProtectedError, match="erasure request"):
        world.customer.delete()
    with pytest.raises(ProtectedError):
        Customer.objects.filter(pk=world.customer.pk).delete()
    assert Customer.objects.filter(pk=world.customer.pk).exists() and Invoice.objects.exists()


@pytest.mark.skipif(not settings.TEST_USES_POSTGRES, reason="pg_dump of the test database needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_database_dump_holds_the_email_nowhere_after_erasure(rep, admin_user, second_admin):
    if not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    world = build_world(rep)
    _request_and_approve(world.customer, admin_user, second_admin)
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    dump = subprocess.run(  # noqa: S603 - fixed arguments, the test database's own settings
        [
            "pg_dump",
            "--data-only",
            "-h",
            db["HOST"] or "127.0.0.1",
            "-p",
            str(db["PORT"] or 5432),
            "-U",
            db["USER"],
            db["NAME"],
        ],  # fmt: skip
        capture_output=True,
        check=True,
        env=env,
    ).stdout.decode()
    # The whole dump, the change history's tables included (scrubbed last by the audit's contributor).
    assert EMAIL not in dump.lower()
    assert PHONE not in dump and "Franziska" not in dump
