"""Undoing an import run: what it created goes, what it changed comes back (PostgreSQL history)."""

import re

import pytest
from django.apps import apps
from django.db import connection

from customer360.audit import history
from customer360.models import AccessLog, Customer, Job
from customer360.sources import undo
from customer360.sources.models import ImportChunk, ImportRun
from customer360.sources.tasks import undo_import
from tests.billing.test_imports import INVOICE_MAPPING
from tests.conftest import client_for
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import mapping, run_file

CUSTOMERS = mapping(external_id="No", first_name="First", last_name="Last", email="Mail", city="City")
BASE = (
    "No;First;Last;Mail;City\nK-1;Anna;Huber;anna@example.com;Wien\nK-2;Bert;Gruber;bert@example.com;Graz\n"
)
CHANGES = (
    "No;First;Last;Mail;City\nK-1;Anne;Huber-Maier;anna@example.com;Linz\n"
    "K-6;Carla;Neu;carla@example.com;Wien\nK-7;Dora;Neu;dora@example.com;Wien\n"
)
INVOICES = (
    "Rechnung;Nummer;Kundennr;E-Mail;Rechnungsdatum;Fällig;Betrag;Status;Beschreibung\n"
    "RE-1;2025-0001;K-1;anna@example.com;01.03.2025;15.03.2025;1.240,00;offen;Premium plan\n"
    "RE-9;2025-0009;K-9;neu@example.com;01.03.2025;15.03.2025;99,00;offen;Basic plan\n"
)
# Bookkeeping of the undo itself, of page views and the history: not the data the run wrote.
NOT_COMPARED = {ImportRun, ImportChunk, Job, AccessLog}


def _row_counts() -> dict[str, int]:
    counts = {}
    for model in apps.get_models():
        if history.is_history_model(model) or model in NOT_COMPARED or model._meta.proxy:
            continue
        if not model._meta.managed or model._meta.app_label in ("sessions", "admin", "pghistory"):
            continue
        counts[model._meta.label] = model._base_manager.count()
    return counts


def _figures(client, customer) -> str:
    """The 360 page's text, without its per-request parts (tokens, nonces)."""
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    page = re.sub(r'(csrfmiddlewaretoken" value=|nonce=)"[^"]*"', "", page)
    page = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    page = re.sub(r"[A-Za-z0-9]{64}|\b[0-9a-f]{32}\b", "", page)  # CSRF and form-submission tokens
    return re.sub(r"\s+", " ", page)


def _undo(run, user) -> dict:
    job = undo.run_undo_start(run=run, user=user)
    result = undo_import(run.pk, job.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.done == job.total
    return result


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("the change history, and so undo, exists on PostgreSQL only")


@pytest.mark.django_db(transaction=False)
def test_undoing_runs_restores_every_table_and_the_360_page(postgres, admin_user):
    shop = DataSourceFactory(slug="shop", target="customers")
    erp = DataSourceFactory(slug="erp", target="billing.invoice", department="accounting")
    run_file(shop, BASE, CUSTOMERS)
    anna = Customer.objects.get(first_name="Anna")
    admin = client_for(admin_user)
    before_counts, before_page = _row_counts(), _figures(admin, anna)
    before_anna = Customer.objects.filter(pk=anna.pk).values().get()

    changes = run_file(shop, CHANGES, CUSTOMERS)
    invoices = run_file(erp, INVOICES, INVOICE_MAPPING)
    assert (changes.created, changes.updated) == (2, 1)
    assert invoices.created == 2 and Customer.objects.count() == 5
    assert _figures(admin, anna) != before_page

    preview = admin.get(f"/sources/runs/{invoices.pk}/undo/").content.decode()
    assert "Undo the import" in preview and 'id="undo-preview"' in preview
    plan = undo.run_undo_plan(invoices)
    assert {m._meta.label: len(p) for m, p in plan.created.items()} == {
        "billing.Invoice": 2,
        "customer360.Customer": 1,  # K-9
        "customer360.CustomerIdentity": 3,  # K-9 and its e-mail, and K-1 as the ERP knows Anna
        "customer360.CustomerAssignment": 2,  # both customers came into accounting's scope
    }
    assert _undo(invoices, admin_user)["removed"] >= 5
    plan = undo.run_undo_plan(changes)
    assert [len(v) for v in plan.restored.values()] == [1]  # Anna's name and city
    _undo(changes, admin_user)

    assert _row_counts() == before_counts
    assert Customer.objects.filter(pk=anna.pk).values().get() == before_anna
    assert _figures(admin, anna) == before_page
    changes.refresh_from_db()
    assert changes.undone_at and changes.undone_by == admin_user
    page = admin.get(f"/sources/runs/{changes.pk}/").content.decode()
    assert 'id="run-undone"' in page
    # Twice is refused, in words.
    with pytest.raises(Exception, match="already been undone"):
        undo.run_undo_start(run=changes, user=admin_user)


@pytest.mark.django_db
def test_without_history_undo_is_refused_clearly(admin_user, monkeypatch):
    shop = DataSourceFactory(slug="shop", target="customers")
    run = run_file(shop, BASE, CUSTOMERS)
    monkeypatch.setattr(history, "enabled", lambda: False)
    admin = client_for(admin_user)
    page = admin.get(f"/sources/runs/{run.pk}/undo/").content.decode()
    assert "only PostgreSQL keeps" in page and "undo-confirm" not in page
    assert admin.post(f"/sources/runs/{run.pk}/undo/").status_code == 409
    assert Customer.objects.count() == 2 and not Job.objects.exists()
