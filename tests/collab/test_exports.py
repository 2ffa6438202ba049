"""The requests inbox exports every request of its filter as XLSX and as CSV in the reader's format,
naming only the customers the reader may see; a handed-out file is in the access log."""

import csv
import io

import pytest

from collab import services
from customer360.audit.models import AccessLog
from tests.collab.factories import give_department_access, post
from tests.conftest import client_for
from tests.customer360.test_exports import sheet_rows
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def requests_to_accounting(gruber, service_user):
    only_service = CustomerFactory(first_name="Vera", last_name="Verborgen")
    give_department_access(only_service, "service")
    post(
        service_user,
        f"#{gruber.customer_number} und #{only_service.customer_number}: bitte Mahnsperre",
        request=services.RequestData(to_department="accounting", priority="urgent"),
    )
    post(service_user, "=1+1 Rechnungskopie?", request=services.RequestData(to_department="accounting"))
    post(service_user, "Für den Vertrieb", request=services.RequestData(to_department="sales"))
    return only_service


def test_request_export_names_only_customers_the_reader_may_see(
    gruber, accounting_user, requests_to_accounting
):
    rows = sheet_rows(client_for(accounting_user).get("/feed/requests/?export=xlsx"))
    header, body = rows[0], rows[1:]
    assert header[:4] == ("Created", "Kind", "Text", "Customers")
    got = [dict(zip(header, row, strict=True)) for row in body]
    assert [r["Priority"] for r in got] == ["Urgent", "Normal"]  # the inbox's order, not the sales request
    assert got[0]["Text"] == "Franz Gruber und a customer: bitte Mahnsperre"
    assert got[0]["Customers"] == gruber.customer_number
    assert (got[0]["From"], got[0]["To"], got[0]["Status"]) == ("Service", "Accounting", "Open")
    assert got[1]["Text"] == "'=1+1 Rechnungskopie?"  # a spreadsheet will not run it
    log = AccessLog.objects.get()
    assert (log.what, log.rows, log.customer_id) == ("requests", 2, gruber.pk)
    assert "Verborgen" not in str(body)


def test_request_export_follows_the_filter_and_the_language(
    accounting_user, service_user, requests_to_accounting
):
    sent = client_for(service_user).get(
        "/feed/requests/?box=sent&status=all&export=csv", HTTP_ACCEPT_LANGUAGE="de"
    )
    rows = list(csv.reader(io.StringIO(sent.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["Angelegt", "Art", "Text", "Kunden"]
    assert sorted(r[6] for r in rows[1:]) == ["Buchhaltung", "Buchhaltung", "Vertrieb"]  # "An"
    assert "Vera Verborgen und Franz Gruber" not in sent.content.decode()  # order as written
    assert any("Franz Gruber und Vera Verborgen" in r[2] for r in rows[1:])  # the author sees both
    resolved = client_for(accounting_user).get("/feed/requests/?status=resolved&export=xlsx")
    assert len(sheet_rows(resolved)) == 1  # only the header
    page = client_for(accounting_user).get("/feed/requests/?status=open").content.decode()
    assert "?status=open&amp;export=xlsx" in page
