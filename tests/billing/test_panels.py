"""The 360 panel, the customer conditions and the brief."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.test import RequestFactory

from billing import panels, services
from billing.models import DunningPolicy, Invoice
from customer360.models import Customer
from customer360.registry import brief_sources, conditions
from tests.billing.factories import at, make_invoice
from tests.conftest import client_for
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(at(TODAY), tick=False):
        yield


def overdue(customer, days: int, level: int, amount="1033.33", number=""):
    """An invoice ``days`` overdue today that the daily runs escalated to ``level`` on their days."""
    due = TODAY - datetime.timedelta(days=days)
    invoice = make_invoice(
        customer, issue_date=due - datetime.timedelta(days=14), due_date=due, amount=amount, number=number
    )
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.OVERDUE)
    for lv in DunningPolicy.active().levels.filter(level__lte=level):
        notice = services.dunning_escalate(
            invoice_id=invoice.pk, level=lv, today=due + datetime.timedelta(days=lv.days_after_due)
        )
        assert notice is not None
    invoice.refresh_from_db()
    return invoice


@pytest.fixture
def gruber(customer):
    """The scenario: one invoice 23 days overdue at level 2 (EUR 1,240.00), an older paid one."""
    paid = make_invoice(customer, issue_date=datetime.date(2025, 6, 1), amount="500.00")
    services.invoice_record_payment(invoice=paid, amount=Decimal("600.00"))
    invoice = overdue(customer, 23, 2, number="2026-0142")
    assert (invoice.dunning_level, invoice.fees_total) == (2, Decimal("10.00"))
    return invoice


def test_panel_facts_in_four_queries(rep, customer, gruber, django_assert_max_num_queries):
    request = RequestFactory().get("/")
    request.user = rep
    rep.has_perm("billing.view_invoice")  # permissions are cached per request, not counted here
    # The 4th query: the revenue other departments record (revenue-tagged events: won deals, orders).
    with django_assert_max_num_queries(4):
        ctx = panels.panel_context(request, customer)
    assert ctx["open_count"] == 1
    assert ctx["open_amount"] == Decimal("1250.00")
    assert (ctx["open_principal"], ctx["open_fees"]) == (Decimal("1240.00"), Decimal("10.00"))
    assert ctx["max_level"] == 2
    assert ctx["oldest_overdue_days"] == 23
    assert ctx["lifetime"] == Decimal("600.00")
    assert ctx["revenue_12m"] == Decimal("600.00")
    assert ctx["promises"] == 0
    assert [i.number for i in ctx["urgent"]] == ["2026-0142"]


def test_panel_on_the_360_page_for_a_rep(rep, customer, gruber):
    page = client_for(rep).get(customer.get_absolute_url()).content.decode()
    panel = page[page.index('data-panel="billing"') :]
    panel = panel[: panel.index("</section>")]
    assert "23 days" in panel and "Level 2" in panel
    # One invoice of EUR 1,240.00 with EUR 10.00 dunning fees: every amount says what it includes.
    assert (
        'EUR 1,250.00 open: <span class="small">invoices EUR 1,240.00 + dunning fees EUR 10.00</span>'
        in panel
    )
    assert "EUR 1,250.00 open (invoice EUR 1,240.00 + dunning fees EUR 10.00), 23 days overdue" in panel
    assert "/billing/invoices/" not in panel  # reps see the facts, not the invoice pages


def test_panel_query_count_does_not_grow_with_invoices(rep, customer, django_assert_max_num_queries):
    request = RequestFactory().get("/")
    request.user = rep
    rep.has_perm("billing.view_invoice")
    for n in range(6):
        overdue(customer, 10 + n, 1, amount="10.00")
    # The 4th query: the revenue other departments record (revenue-tagged events: won deals, orders).
    with django_assert_max_num_queries(4):
        ctx = panels.panel_context(request, customer)
    assert ctx["open_count"] == 6 and len(ctx["urgent"]) == 3


def test_brief_items_for_gruber(rep, customer, gruber):
    items = brief_sources.items["billing"].items(customer, rep)
    assert [(i.level, i.text) for i in items] == [
        (
            "red",
            "Invoice 2026-0142 is 23 days overdue "
            "(dunning level 2, EUR 1,250.00 open: invoice EUR 1,240.00 + dunning fees EUR 10.00)",
        ),
        ("avoid", "Do not pitch upgrades: dunning level 2"),
    ]
    services.invoice_promise_payment(invoice=gruber, promised_date=datetime.date(2026, 3, 10))
    next_page = type(customer).objects.get(pk=customer.pk)  # reads are shared per page, i.e. per object
    items = brief_sources.items["billing"].items(next_page, rep)
    assert items[-1].level == "info" and "2026-0142" in items[-1].text and "10 Mar 2026" in items[-1].text


def test_brief_at_level_1_does_not_say_avoid(rep, customer):
    overdue(customer, 9, 1)
    items = brief_sources.items["billing"].items(customer, rep)
    assert [i.level for i in items] == ["red"]


def _matching(key, op, value):
    return set(
        Customer.objects.filter(conditions.items[key].build(op, value)).values_list("last_name", flat=True)
    )


def test_conditions_pick_the_right_customers(rep):
    level2 = CustomerFactory(last_name="Level2")
    overdue(level2, 23, 2, amount="1000.00")
    level1 = CustomerFactory(last_name="Level1")
    overdue(level1, 9, 1, amount="100.00")
    payer = CustomerFactory(last_name="Payer")
    invoice = make_invoice(payer, issue_date=datetime.date(2026, 2, 20), amount="200.00")
    services.invoice_record_payment(invoice=invoice, amount=Decimal("240.00"))
    promised = CustomerFactory(last_name="Promised")
    services.invoice_promise_payment(invoice=overdue(promised, 3, 0, amount="50.00"), promised_date=TODAY)
    nothing = CustomerFactory(last_name="Nothing")
    assert nothing

    assert _matching("billing.dunning_level", "gte", 2) == {"Level2"}
    assert _matching("billing.dunning_level", "eq", 1) == {"Level1"}
    assert _matching("billing.dunning_level", "lt", 1) == {"Payer", "Promised", "Nothing"}
    assert _matching("billing.overdue_days", "gt", 20) == {"Level2"}
    assert _matching("billing.overdue_days", "gte", 3) == {"Level2", "Level1", "Promised"}
    assert _matching("billing.overdue_days", "eq", 0) == {"Payer", "Nothing"}
    assert _matching("billing.overdue_amount", "gt", Decimal("500")) == {"Level2"}  # 1,200 + 10 fee
    assert _matching("billing.overdue_amount", "gte", Decimal("100")) == {"Level2", "Level1"}
    assert _matching("billing.overdue_amount", "gte", Decimal("60")) == {"Level2", "Level1", "Promised"}
    assert _matching("billing.open_invoices", "eq", 1) == {"Level2", "Level1", "Promised"}
    assert _matching("billing.open_invoices", "eq", 0) == {"Payer", "Nothing"}
    assert _matching("billing.revenue_12m", "gte", Decimal("240")) == {"Payer"}
    assert _matching("billing.revenue_12m", "eq", 0) == {"Level2", "Level1", "Promised", "Nothing"}
    assert _matching("billing.dunning_paused", "eq", True) == {"Promised"}
    assert "Promised" not in _matching("billing.dunning_paused", "eq", False)
    assert conditions.items["billing.dunning_level"].value_type == "int"
    with pytest.raises(ValueError):
        conditions.items["billing.open_invoices"].build("like", 1)


def test_the_360_page_quotes_the_same_amounts_in_panel_and_brief(rep, customer, gruber):
    page = client_for(rep).get(customer.get_absolute_url()).content.decode()
    # The brief and the panel both say "1,250.00 open" and split it the same way; no bare 1,240.00.
    assert page.count("EUR 1,250.00 open") == 3  # brief, panel total, panel invoice line
    assert page.count("invoice EUR 1,240.00 + dunning fees EUR 10.00") == 2  # brief, invoice line
    german = client_for(rep).get(customer.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "EUR 1.250,00 offen: Rechnung EUR 1.240,00 + Mahngebühren EUR 10,00" in german


def test_without_fees_the_panel_says_open_without_a_split(rep, customer):
    overdue(customer, 9, 1, amount="100.00")
    page = client_for(rep).get(customer.get_absolute_url()).content.decode()
    assert "EUR 120.00 open" in page and "dunning fees" not in page  # 100.00 + 20 % VAT
