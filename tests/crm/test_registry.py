"""Conditions select the right customers; brief sources name the red flags; navigation entries."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from crm import services
from crm.models import Activity
from customer360.models import Customer
from customer360.registry import brief_sources, conditions, navigation
from tests.crm.factories import make_activity, make_contract, make_deal, make_ticket
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def matching(key, op, value):
    return set(
        Customer.objects.filter(conditions.items[key].build(op, value)).values_list("last_name", flat=True)
    )


@pytest.fixture
def people(rep, service_user):
    names = {n: CustomerFactory(last_name=n, owner=rep) for n in ("gruber", "huber", "maier", "never")}
    complaint = make_ticket(service_user, customer=names["gruber"], category="complaint")
    make_ticket(service_user, customer=names["gruber"], category="question")
    solved = make_ticket(service_user, customer=names["huber"], category="complaint")
    services.ticket_solve(ticket=solved, user=service_user)
    services.ticket_record_csat(ticket=solved, score=5)
    services.ticket_solve(ticket=complaint, user=service_user)
    services.ticket_record_csat(ticket=complaint, score=2)
    services.ticket_reopen(ticket=complaint, user=service_user)
    make_contract(rep, names["gruber"], "basic", renewal_date=timezone.localdate() + timedelta(weeks=6))
    make_contract(rep, names["huber"], "premium", renewal_date=timezone.localdate() + timedelta(days=200))
    make_deal(rep, names["maier"])
    make_activity(rep, names["gruber"], occurred_at=timezone.now() - timedelta(days=21))
    make_activity(rep, names["huber"], occurred_at=timezone.now() - timedelta(days=2))
    make_activity(rep, names["maier"], occurred_at=timezone.now() - timedelta(days=60))
    return names


def test_conditions(people):
    assert matching("crm.open_complaint", "eq", True) == {"gruber"}
    assert matching("crm.open_complaint", "eq", False) == {"huber", "maier", "never"}
    assert matching("crm.open_tickets", "gte", 2) == {"gruber"}
    assert matching("crm.open_tickets", "eq", 0) == {"huber", "maier", "never"}
    assert matching("crm.last_csat", "lte", 2) == {"gruber"}
    assert matching("crm.last_csat", "gte", 4) == {"huber"}
    assert matching("crm.owns_product", "eq", "basic") == {"gruber"}
    assert matching("crm.renewal_within_days", "lte", 90) == {"gruber"}
    assert matching("crm.open_deal", "eq", True) == {"maier"}
    assert matching("crm.days_since_last_contact", "gt", 14) == {"gruber", "maier", "never"}
    assert matching("crm.days_since_last_contact", "lt", 7) == {"huber"}
    assert matching("crm.days_since_last_contact", "eq", 21) == {"gruber"}


def test_brief_sources(people, rep, django_assert_max_num_queries):
    gruber = people["gruber"]
    with django_assert_max_num_queries(2):
        service = brief_sources.items["crm.service"].items(gruber, rep)
    with django_assert_max_num_queries(3):  # the 3rd: the customer's orders (purchases)
        sales = brief_sources.items["crm.sales"].items(gruber, rep)
    levels = [(i.level, i.text) for i in service]
    assert ("avoid", "Do not pitch offers while a complaint is open.") in levels
    assert any(level == "red" and "Open complaint" in text for level, text in levels)
    assert any(level == "red" and "Low satisfaction (2/5)" in text for level, text in levels)
    texts = [i.text for i in sales]
    assert any("Basic plan renews" in t and "in 6 weeks" in t for t in texts)
    assert any(t.startswith("Last contact") for t in texts)
    assert brief_sources.items["crm.service"].items(people["never"], rep) == []


def test_sla_breach_is_a_red_brief_item(service_user, rep, customer):
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        make_ticket(service_user, customer=customer, priority="urgent")
    services.ticket_flag_sla_breaches()
    items = brief_sources.items["crm.service"].items(customer, rep)
    assert any(i.level == "red" and i.text.startswith("SLA breached") for i in items)


def test_navigation_entries():
    assert navigation.items["deals"].url_name == "crm:deal_list"
    assert navigation.items["tickets"].permission == "crm.view_ticket"
    assert Activity  # the model exists for "my follow-ups"
