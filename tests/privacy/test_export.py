"""Subject access export: one ZIP with records from every app, JSON that loads back."""

import io
import json
import re
import zipfile

import pytest

from billing.models import Invoice
from crm.models import Ticket
from customer360.models import TimelineEvent
from customer360.privacy import tasks
from customer360.privacy.models import SubjectExport
from customer360.privacy.registry import subject_data
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.privacy.world import EMAIL, build_world

pytestmark = pytest.mark.django_db


def _export_zip(admin_user, customer) -> tuple[zipfile.ZipFile, SubjectExport]:
    client = client_for(admin_user)
    response = client.post(f"/customers/{customer.pk}/privacy/", {"action": "export"})
    assert response.status_code == 302
    export = SubjectExport.objects.get(customer=customer)
    assert export.status == "queued"
    tasks.build_subject_export(export.pk)
    progress = client.get(f"/customers/{customer.pk}/privacy/exports/{export.pk}/")
    assert 'data-status="done"' in progress.content.decode() and "hx-get" not in progress.content.decode()
    download = client.get(f"/customers/{customer.pk}/privacy/exports/{export.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    export.refresh_from_db()
    return zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))), export


def test_export_holds_records_from_every_app_and_loads_back(admin_user, rep):
    world = build_world(rep)
    archive, export = _export_zip(admin_user, world.customer)
    names = set(archive.namelist())
    assert {"README.txt", "export.json"} <= names
    for item in subject_data.all():
        files = [n for n in names if n.startswith(f"{item.key}/") and n.endswith(".json")]
        rows = sum(len(json.loads(archive.read(n))) for n in files)
        assert rows > 0, f"{item.key} contributed no rows"
        assert all(n[:-5] + ".csv" in names for n in files)
    counts = json.loads(archive.read("export.json"))["counts"]
    assert counts == export.counts
    # The JSON reads back with the numbers the 360 page and the database show.
    profile = json.loads(archive.read("core/profile.json"))
    assert profile[0]["email"] == EMAIL
    assert (
        len(json.loads(archive.read("core/timeline.json")))
        == TimelineEvent.objects.filter(customer=world.customer).count()
    )
    assert (
        len(json.loads(archive.read("billing/invoices.json")))
        == Invoice.objects.filter(customer=world.customer).count()
    )
    assert (
        len(json.loads(archive.read("crm/tickets.json")))
        == Ticket.objects.filter(customer=world.customer).count()
    )
    proof = json.loads(archive.read("marketing/consent_proof.json"))
    assert (
        proof[0]["wording_text"] == "Ich möchte den Newsletter erhalten." and proof[0]["method"] == "web_form"
    )
    assert len(json.loads(archive.read("collab/posts.json"))) == 1
    assert json.loads(archive.read("insights/recommendations.json"))[0]["reasons"] == [
        {"text": "2 offene Tickets"}
    ]
    readme = archive.read("README.txt").decode()
    assert "crm/tickets.json / .csv: 1 rows" in readme
    # ... and with the figures the person's 360 page shows: open tickets, open invoices.
    page = client_for(admin_user).get(f"/customers/{world.customer.pk}/").content.decode()
    shown = {
        label: int(re.search(rf"<dt>{label}</dt>\s*<dd>(\d+)", page).group(1))
        for label in ("Open tickets", "Open invoices")
    }
    tickets = json.loads(archive.read("crm/tickets.json"))
    invoices = json.loads(archive.read("billing/invoices.json"))
    assert shown["Open tickets"] == sum(t["status"] in Ticket.OPEN_STATUSES for t in tickets) >= 1
    assert shown["Open invoices"] == sum(i["status"] in Invoice.OPEN_STATUSES for i in invoices) >= 1


def test_the_privacy_page_is_for_admins_only(rep, manager, admin_user):
    world = build_world(rep)
    url = f"/customers/{world.customer.pk}/privacy/"
    assert client_for(rep).get(url).status_code == 403
    assert client_for(manager).get(url).status_code == 403
    page = client_for(admin_user).get(url)
    assert page.status_code == 200 and "Request erasure" in page.content.decode()
    other_admin = UserFactory(username="admin2", role="Admin", is_staff=True)
    assert (
        client_for(other_admin).get(f"/customers/{world.customer.pk}/privacy/exports/999/").status_code == 404
    )


def test_consent_proof_downloads_on_its_own(rep, marketing_user, service_user):
    world = build_world(rep)
    from tests.factories import assign

    assign(world.customer, "marketing")
    client = client_for(marketing_user)
    as_json = client.get(f"/marketing/customers/{world.customer.pk}/consent/proof/")
    assert as_json.status_code == 200
    proof = json.loads(as_json.content)["consent_proof"]
    assert [(p["channel"], p["purpose"], p["new_status"]) for p in proof] == [
        ("email", "newsletter", "granted")
    ]
    assert proof[0]["source"] == "https://example.com/form" and proof[0]["wording_version"] == "v1"
    assert proof[0]["wording_text"] == "Ich möchte den Newsletter erhalten."
    as_csv = client.get(
        f"/marketing/customers/{world.customer.pk}/consent/proof/?format=csv"
    ).content.decode()
    assert as_csv.splitlines()[0].startswith("channel,purpose") and "Newsletter erhalten" in as_csv
    # Out of scope (service has no assignment of this customer) or without the right: refused.
    refused = client_for(service_user).get(f"/marketing/customers/{world.customer.pk}/consent/proof/")
    assert refused.status_code in (403, 404)
