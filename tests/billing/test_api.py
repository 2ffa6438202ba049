"""API: same scope and permissions as the pages, 400 naming field and reason, flat query counts."""

import datetime
from decimal import Decimal

import pytest
import time_machine

from billing.models import Invoice
from customer360.models import TimelineEvent
from tests.billing.factories import at, make_invoice
from tests.conftest import client_for
from tests.factories import CustomerFactory, unassigned

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 3, 2)
BASE = "/api/billing"


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(at(TODAY), tick=False):
        yield


@pytest.fixture
def invoice(customer):
    return make_invoice(
        customer,
        issue_date=datetime.date(2026, 2, 1),
        due_date=datetime.date(2026, 2, 15),
        number="2026-0142",
    )


def test_create_with_nested_lines_and_issue(accounting_user, customer):
    client = client_for(accounting_user)
    response = client.post(
        f"{BASE}/invoices/",
        {
            "customer": customer.pk,
            "issue_date": "2026-03-02",
            "due_date": "2026-03-16",
            "issue": True,
            "lines": [
                {"description": "Basic plan", "quantity": "1", "unit_price": "1033.33", "tax_rate": "20.00"},
                {"description": "Book", "quantity": "3", "unit_price": "9.99", "tax_rate": "10.00"},
            ],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "issued" and body["number"] == "2026-0001"
    assert (body["net_total"], body["tax_total"], body["gross_total"]) == ("1063.30", "209.67", "1272.97")
    assert [line["gross_amount"] for line in body["lines"]] == ["1240.00", "32.97"]
    assert TimelineEvent.objects.filter(kind="invoice.issued", customer=customer).count() == 1


def test_create_without_lines_is_400_naming_lines(accounting_user, customer):
    response = client_for(accounting_user).post(
        f"{BASE}/invoices/",
        {"customer": customer.pk, "due_date": "2026-03-16", "lines": []},
        content_type="application/json",
    )
    assert response.status_code == 400 and "lines" in response.json()
    assert not Invoice.objects.exists()


def test_record_payment_refusals_are_400_with_field(accounting_user, invoice):
    client = client_for(accounting_user)
    url = f"{BASE}/invoices/{invoice.pk}/record-payment/"
    response = client.post(url, {"amount": "1240.01"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"amount": ["EUR 1,240.01 is more than the open amount of EUR 1,240.00."]}
    ok = client.post(url, {"amount": "240.00", "reference": "B-1"}, content_type="application/json")
    assert ok.status_code == 201 and ok.json()["amount"] == "240.00"
    invoice.refresh_from_db()
    assert invoice.status == "overdue" and invoice.open_amount == Decimal("1000.00")

    other = make_invoice(invoice.customer, amount="10.00", issue_date=TODAY)
    client.post(f"{BASE}/invoices/{other.pk}/cancel/", {"reason": "dup"}, content_type="application/json")
    response = client.post(
        f"{BASE}/invoices/{other.pk}/record-payment/", {"amount": "1.00"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "status" in response.json() and "cancelled" in response.json()["status"][0]


def test_actions_over_the_api(accounting_user, invoice):
    client = client_for(accounting_user)

    def post(action, data=None):
        return client.post(
            f"{BASE}/invoices/{invoice.pk}/{action}/", data or {}, content_type="application/json"
        )

    assert post("dispute", {"reason": "Wrong amount"}).json()["status"] == "disputed"
    assert post("dispute", {"reason": "again"}).status_code == 400
    assert post("resolve-dispute").json()["status"] == "overdue"
    assert post("promise", {"promised_date": "2026-01-01"}).json() == {
        "promised_date": ["The promised date cannot be in the past."]
    }
    assert post("promise", {"promised_date": "2026-03-20"}).json()["promise_to_pay_date"] == "2026-03-20"
    assert post("pause-dunning", {"until": "2026-03-25"}).json()["dunning_paused_until"] == "2026-03-25"
    assert post("resume-dunning").json()["dunning_paused"] is False
    assert post("cancel").json()["status"] == "cancelled"


def test_run_dunning_action_queues_the_task(
    accounting_user, invoice, django_capture_on_commit_callbacks, monkeypatch
):
    from billing import tasks

    monkeypatch.setattr(tasks.run_dunning, "delay", lambda **kw: tasks.run_dunning(**kw))
    monkeypatch.setattr(tasks.send_dunning_notice, "delay", lambda pk: None)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(accounting_user).post(f"{BASE}/invoices/run-dunning/")
    assert response.status_code == 202
    notices = client_for(accounting_user).get(f"{BASE}/notices/").json()
    assert [(n["invoice_number"], n["level"]) for n in notices["results"]] == [("2026-0142", 1)]


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("Sales", 403, 403), ("Service", 403, 403), ("Marketing", 403, 403),
     ("Accounting", 200, 201), ("Manager", 200, 403), ("Admin", 200, 201)],
)  # fmt: skip
def test_permissions_per_role(role_users, invoice, role, read, write):
    client = client_for(role_users[role])
    assert client.get(f"{BASE}/invoices/").status_code == read
    assert client.get(f"{BASE}/invoices/{invoice.pk}/").status_code == read
    assert client.get(f"{BASE}/payments/").status_code == read
    assert client.get(f"{BASE}/notices/").status_code == read
    assert client.get(f"{BASE}/policies/").status_code == read
    paid = client.post(
        f"{BASE}/invoices/{invoice.pk}/record-payment/", {"amount": "1.00"}, content_type="application/json"
    )
    assert paid.status_code == write
    level = client.patch(f"{BASE}/levels/1/", {"fee": "12.00"}, content_type="application/json")
    assert level.status_code == (200 if role == "Admin" else 403)


def test_out_of_scope_is_404(accounting_user, rep, rep2):
    hidden = make_invoice(unassigned(CustomerFactory(owner=rep2)), issue=False)
    for user in (accounting_user, rep):
        client = client_for(user)
        if user == rep:
            continue  # Sales does not read invoices at all (403, tested above)
        assert client.get(f"{BASE}/invoices/{hidden.pk}/").status_code == 404
        response = client.post(
            f"{BASE}/invoices/{hidden.pk}/record-payment/", {"amount": "1"}, content_type="application/json"
        )
        assert response.status_code == 404
    # rep2's own invoice list as a manager-less accounting user does not contain it
    assert client_for(accounting_user).get(f"{BASE}/invoices/").json()["count"] == 0


def test_filters(accounting_user, invoice, customer):
    fresh = make_invoice(customer, amount="10.00", issue_date=TODAY)
    client = client_for(accounting_user)

    def numbers(**params):
        return [r["number"] for r in client.get(f"{BASE}/invoices/", params).json()["results"]]

    assert numbers(overdue="true") == ["2026-0142"]
    assert numbers(overdue="false") == [fresh.number]
    assert numbers(status="issued") == [fresh.number, "2026-0142"]  # marked overdue only by the run
    assert numbers(q="grub") == [fresh.number, "2026-0142"]
    assert numbers(customer=customer.pk, due_before="2026-02-20") == ["2026-0142"]


def _make_many(n):
    for _ in range(n):
        make_invoice(CustomerFactory(), amount="50.00", issue_date=datetime.date(2026, 2, 1))


def test_list_endpoint_query_count_does_not_grow(accounting_user, django_assert_max_num_queries):
    client = client_for(accounting_user)
    _make_many(3)
    client.get(f"{BASE}/invoices/")
    with django_assert_max_num_queries(8) as few:
        assert client.get(f"{BASE}/invoices/").json()["count"] == 3
    _make_many(27)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"{BASE}/invoices/").json()["count"] == 30
