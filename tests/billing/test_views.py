"""Pages: who may do what, refusals as messages, query counts that do not grow with rows."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from billing import services, tasks
from billing.models import Invoice
from customer360.models import Job, TimelineEvent
from tests.billing.factories import at, make_invoice
from tests.conftest import client_for
from tests.factories import CustomerFactory, unassigned

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(at(TODAY), tick=False):
        yield


@pytest.fixture
def invoice(customer, accounting_user):
    return make_invoice(
        customer,
        issue_date=datetime.date(2026, 2, 1),
        due_date=datetime.date(2026, 2, 15),
        number="2026-0142",
    )


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    ("role", "list_status", "can_pay"),
    [("Sales", 403, False), ("Service", 403, False), ("Marketing", 403, False),
     ("Accounting", 200, True), ("Manager", 200, False), ("Admin", 200, True)],
)  # fmt: skip
def test_permissions_per_role(role_users, invoice, role, list_status, can_pay):
    client = client_for(role_users[role])
    response = client.get(reverse("billing:invoice_list"))
    assert response.status_code == list_status
    detail = client.get(invoice.get_absolute_url())
    assert detail.status_code == list_status
    if list_status == 403:
        assert "billing.view_invoice" in detail.content.decode()
    paid = client.post(reverse("billing:invoice_action", args=[invoice.pk, "payment"]),
                       {"amount": "10.00", "received_on": TODAY.isoformat(), "method": "bank_transfer"})  # fmt: skip
    assert paid.status_code == (302 if can_pay else 403)
    invoice.refresh_from_db()
    assert invoice.paid_amount == (Decimal("10.00") if can_pay else 0)
    create = client.get(reverse("billing:invoice_create"))
    assert create.status_code == (200 if role in ("Accounting", "Admin") else 403)
    run = client.post(reverse("billing:dunning_run"))
    assert run.status_code == (302 if role in ("Accounting", "Admin") else 403)
    dunning = client.get(reverse("billing:dunning"))
    assert dunning.status_code == list_status


def test_out_of_scope_invoice_is_404_for_accounting(accounting_user, rep):
    hidden = unassigned(CustomerFactory(owner=rep))
    other = make_invoice(hidden, issue=False)  # a draft by someone else: no accounting event yet
    client = client_for(accounting_user)
    assert client.get(other.get_absolute_url()).status_code == 404
    assert client.post(reverse("billing:invoice_action", args=[other.pk, "issue"])).status_code == 404


def test_list_filters_and_totals(accounting_user, customer, invoice):
    paid = make_invoice(
        customer, amount="100.00", issue_date=TODAY, due_date=TODAY + datetime.timedelta(days=14)
    )
    services.invoice_record_payment(invoice=paid, amount=Decimal("120.00"))
    services.dunning_run()
    client = client_for(accounting_user)
    page = client.get(reverse("billing:invoice_list")).content.decode()
    assert "2026-0142" in page and paid.number in page
    assert 'data-open-amount="1240.00"' in page
    overdue = client.get(reverse("billing:invoice_list"), {"overdue": "on"}).content.decode()
    assert "2026-0142" in overdue and paid.number not in overdue
    level1 = client.get(reverse("billing:invoice_list"), {"dunning_level": "1"}).content.decode()
    assert "2026-0142" in level1 and paid.number not in level1
    by_status = client.get(reverse("billing:invoice_list"), {"status": "paid"}).content.decode()
    assert paid.number in by_status and "2026-0142" not in by_status
    by_name = client.get(reverse("billing:invoice_list"), {"q": "grub"}).content.decode()
    assert "2026-0142" in by_name
    nobody = client.get(reverse("billing:invoice_list"), {"q": "zzzz"}).content.decode()
    assert "2026-0142" not in nobody


def _make_many(n):
    for _ in range(n):
        make_invoice(CustomerFactory(), amount="50.00", issue_date=datetime.date(2026, 2, 1))


def test_list_page_query_count_does_not_grow(accounting_user, django_assert_max_num_queries):
    client = client_for(accounting_user)
    _make_many(3)
    client.get(reverse("billing:invoice_list"))
    with django_assert_max_num_queries(9) as few:
        response = client.get(reverse("billing:invoice_list"))
    assert response.content.decode().count("data-invoice=") == 3
    _make_many(27)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("billing:invoice_list"))
    assert response.content.decode().count("data-invoice=") == 30


def test_overpay_and_cancelled_payment_refused_with_message(accounting_user, invoice):
    client = client_for(accounting_user)
    url = reverse("billing:invoice_action", args=[invoice.pk, "payment"])
    response = client.post(
        url, {"amount": "2000.00", "received_on": TODAY.isoformat(), "method": "bank_transfer"}
    )
    assert response.status_code == 302
    assert texts(response)[-1:] == ["EUR 2,000.00 is more than the open amount of EUR 1,240.00."]
    client.post(reverse("billing:invoice_action", args=[invoice.pk, "cancel"]), {"reason": "duplicate"})
    invoice.refresh_from_db()
    assert invoice.status == "cancelled"
    response = client.post(
        url, {"amount": "10.00", "received_on": TODAY.isoformat(), "method": "bank_transfer"}
    )
    assert texts(response)[-1:] == ["Invoice 2026-0142 is cancelled; a cancelled invoice cannot be paid."]
    assert not invoice.payments.exists()


def test_detail_shows_lines_payments_notices_and_actions(accounting_user, invoice):
    services.dunning_run(today=TODAY)  # 15 days overdue -> level 1
    services.invoice_record_payment(invoice=invoice, amount=Decimal("240.00"), reference="R-1")
    page = client_for(accounting_user).get(invoice.get_absolute_url()).content.decode()
    assert "Basic plan" in page and "1,033.33" in page and "206.67" in page
    assert "R-1" in page and "240.00" in page
    assert "Sehr geehrte" in page  # the German notice text
    for action in ("payment", "dispute", "promise", "pause"):
        assert reverse("billing:invoice_action", args=[invoice.pk, action]) in page
    # with a payment booked, cancelling is no longer offered
    assert reverse("billing:invoice_action", args=[invoice.pk, "cancel"]) not in page


def test_manager_reads_without_action_buttons(manager, invoice):
    page = client_for(manager).get(invoice.get_absolute_url()).content.decode()
    assert "2026-0142" in page
    for action in ("payment", "dispute", "promise", "pause", "cancel"):
        assert reverse("billing:invoice_action", args=[invoice.pk, action]) not in page


def test_ui_actions_write_one_event_each(accounting_user, invoice):
    client = client_for(accounting_user)

    def act(name, data=None):
        return client.post(reverse("billing:invoice_action", args=[invoice.pk, name]), data or {})

    act("dispute", {"reason": "Wrong amount"})
    act("resolve", {"note": "explained"})
    act("promise", {"promised_date": "2026-03-20"})
    act("pause", {"until": "2026-03-25"})
    act("resume")
    response = act("promise", {"promised_date": "2026-01-01"})
    assert texts(response)[-1:] == ["The promised date cannot be in the past."]
    kinds = list(
        TimelineEvent.objects.filter(department="accounting").order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["invoice.issued", "invoice.disputed", "invoice.dispute_resolved", "payment.promised",
                     "dunning.paused", "dunning.resumed"]  # fmt: skip


def test_create_invoice_with_lines_and_issue(accounting_user, customer):
    client = client_for(accounting_user)
    data = {
        "customer": customer.customer_number, "issue_date": "2026-03-02", "due_date": "2026-03-16", "notes": "",
        "lines-TOTAL_FORMS": "3", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "1000",
        "lines-0-product_code": "BASIC-12", "lines-0-description": "Basic plan", "lines-0-quantity": "1",
        "lines-0-unit_price": "1033.33", "lines-0-tax_rate": "20.00",
        "lines-1-product_code": "", "lines-1-description": "Service hour", "lines-1-quantity": "2",
        "lines-1-unit_price": "95.00", "lines-1-tax_rate": "20.00",
        "lines-2-product_code": "", "lines-2-description": "", "lines-2-quantity": "", "lines-2-unit_price": "",
        "lines-2-tax_rate": "",
        "issue": "1",
    }  # fmt: skip
    response = client.post(reverse("billing:invoice_create"), data)
    invoice = Invoice.objects.get()
    assert response.status_code == 302 and response["Location"] == invoice.get_absolute_url()
    assert invoice.number == "2026-0001" and invoice.status == "issued"
    assert invoice.gross_total == Decimal("1468.00") and invoice.lines.count() == 2
    assert TimelineEvent.objects.filter(kind="invoice.issued", customer=customer).count() == 1

    # a draft is editable; an empty invoice is refused with the formset error
    data.pop("issue")
    for key in list(data):
        if key.startswith("lines-") and key[6].isdigit():
            data[key] = ""
    response = client.post(reverse("billing:invoice_create"), data)
    assert response.status_code == 200 and "An invoice needs at least one line." in response.content.decode()
    assert Invoice.objects.count() == 1


def test_run_dunning_now_runs_the_task_and_shows_counts(
    accounting_user, invoice, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks.run_dunning, "delay", lambda **kw: tasks.run_dunning(**kw))
    monkeypatch.setattr(tasks.send_dunning_notice, "delay", lambda pk: tasks.send_dunning_notice(pk))
    client = client_for(accounting_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("billing:dunning_run"))
    job = Job.objects.get(kind=tasks.JOB_KIND)
    assert response["Location"] == f"{reverse('billing:dunning')}?job={job.pk}"
    job.refresh_from_db()
    assert job.status == "done" and job.result["notices"] == {"1": 1}
    page = client.get(response["Location"]).content.decode()
    assert "Level 1: 1" in page
    assert "Run dunning now" in page


def test_menu_entries_follow_permissions(accounting_user, rep):
    page = client_for(accounting_user).get(reverse("billing:invoice_list")).content.decode()
    assert 'data-nav="invoices"' in page and 'data-nav="dunning"' in page
    rep_page = client_for(rep).get(reverse("customer360:customer_list")).content.decode()
    assert 'data-nav="invoices"' not in rep_page
