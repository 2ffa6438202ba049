"""Issue #14, erasure gaps: an Excel upload that names the person is rewritten without the person's
rows (like a CSV), not deleted whole; its UTF-8 work copy is rewritten too; and an erasure whose
execution failed can be run again from the privacy page by an administrator."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from openpyxl import Workbook, load_workbook

from customer360.models import Customer
from customer360.privacy import files, tasks
from customer360.privacy.models import ErasureRequest
from customer360.privacy.text import Needles
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.privacy.test_erasure import _request_and_approve
from tests.privacy.world import EMAIL, MAPPING
from tests.sources.factories import DataSourceFactory
from tests.sources.helpers import run_import

pytestmark = pytest.mark.django_db

HEADER = ["Kundennummer", "Vorname", "Nachname", "E-Mail", "Telefon", "Ort"]
ROWS = [
    ["K-4711", "Franziska", "Huber", EMAIL, "0664 1234567", "Wien"],
    ["K-4712", "Otto", "Normal", "otto@example.at", "0664 7654321", "Graz"],
]


@pytest.fixture
def second_admin(db):
    return UserFactory(username="admin2", role="Admin", is_staff=True)


def _workbook(*rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Kunden"
    for row in (HEADER, *rows):
        sheet.append(row)
    notes = book.create_sheet("Notizen")
    notes.append(["Wer", "Was"])
    notes.append(["Franziska Huber", "ruft zurück"])
    notes.append(["Otto Normal", "Stammkunde"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheets(name: str) -> dict[str, list[list]]:
    with default_storage.open(name, "rb") as handle:
        book = load_workbook(io.BytesIO(handle.read()), read_only=True)
    return {s.title: [list(r) for r in s.iter_rows(values_only=True)] for s in book.worksheets}


def test_an_excel_upload_loses_the_persons_rows_and_keeps_the_others(rep, admin_user, second_admin):
    source = DataSourceFactory(slug="erp-xlsx", kind="csv", target="customers", department="sales")
    run = run_import(source, _workbook(*ROWS), MAPPING, name="kunden.xlsx")
    assert run.created == 2 and run.work_file.name  # the import read it through a UTF-8 work copy
    customer = Customer.objects.get(email=EMAIL)

    _request_and_approve(customer, admin_user, second_admin)
    run.refresh_from_db()

    assert default_storage.exists(run.file.name), "the workbook is rewritten, not deleted"
    sheets = _sheets(run.file.name)
    assert sheets["Kunden"] == [HEADER, ROWS[1]]
    assert sheets["Notizen"] == [["Wer", "Was"], ["Otto Normal", "Stammkunde"]]
    with default_storage.open(run.work_file.name, "rb") as handle:
        work = handle.read().decode("utf-8-sig")
    assert "Franziska" not in work and EMAIL not in work and "otto@example.at" in work


def test_a_workbook_naming_the_person_beyond_its_rows_goes_whole():
    book = Workbook()
    book.active.title = "Franziska Huber"  # the sheet's name names her: no row can be left out for that
    book.active.append(["Name"])
    book.active.append(["Otto Normal"])
    out = io.BytesIO()
    book.save(out)
    name = default_storage.save("sources/uploads/named-sheet.xlsx", io.BytesIO(out.getvalue()))
    needles = Needles.of(Customer(first_name="Franziska", last_name="Huber"), [])
    assert files._rewrite(name, needles) == ""
    assert not default_storage.exists(name)


@pytest.fixture
def failing_file_store(monkeypatch):
    calls = []

    def unreachable(needles):
        calls.append(needles)
        if len(calls) == 1:
            raise OSError("file store unreachable")
        return 0

    monkeypatch.setattr(files, "scrub_import_files", unreachable)
    return calls


def test_a_failed_erasure_is_retried_from_the_privacy_page(rep, admin_user, second_admin, failing_file_store):
    source = DataSourceFactory(slug="erp-retry", kind="csv", target="customers", department="sales")
    run_import(source, b"E-Mail;Vorname\nfranziska.huber@example.at;Franziska\n", {
        "fields": [{"column": "E-Mail", "field": "email"}, {"column": "Vorname", "field": "first_name"}],
        "options": {"delimiter": ";"},
    })  # fmt: skip
    customer = Customer.objects.get(email=EMAIL)
    with pytest.raises(OSError):
        _request_and_approve(customer, admin_user, second_admin)
    request = ErasureRequest.objects.get(customer=customer)
    customer.refresh_from_db()
    assert (request.status, request.error) == ("failed", "OSError")
    assert customer.email == EMAIL  # rolled back: nothing half erased

    page = client_for(admin_user).get(f"/customers/{customer.pk}/privacy/").content.decode()
    assert f'id="retry-erasure-{request.pk}"' in page and "OSError" in page
    retry = f"/customers/{customer.pk}/privacy/erasure/{request.pk}/retry/"
    assert client_for(rep).post(retry).status_code == 403  # administrators only
    answer = client_for(admin_user).post(retry)
    assert answer.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.error, request.approved_by) == ("approved", "", second_admin)

    tasks.execute_erasure(request.pk)  # what the worker runs after the commit
    request.refresh_from_db()
    customer.refresh_from_db()
    assert request.status == "executed" and customer.email == "" and len(failing_file_store) == 2
    assert (
        f'id="retry-erasure-{request.pk}"'
        not in client_for(admin_user).get(f"/customers/{customer.pk}/privacy/").content.decode()
    )


def test_only_a_failed_erasure_can_be_retried(rep, admin_user, second_admin):
    customer = Customer.objects.create(email="someone@example.at")
    client_for(admin_user).post(f"/customers/{customer.pk}/privacy/", {"action": "erase", "reason": "letter"})
    request = ErasureRequest.objects.get(customer=customer)
    client_for(second_admin).post(f"/customers/{customer.pk}/privacy/erasure/{request.pk}/retry/")
    request.refresh_from_db()
    assert request.status == "requested"  # waiting for approval: a retry changes nothing
