"""The demo seeders: deterministic, persona-consistent, and the planted scenario facts."""

from datetime import date, timedelta

import pytest
from django.db import transaction

from crm.models import Activity, Contract, Deal, Satisfaction, Ticket
from customer360.demo import run_seeders
from customer360.models import Customer, TimelineEvent

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 10)


def signature():
    return (
        sorted(
            Ticket.objects.values_list(
                "customer__customer_number", "subject", "status", "priority", "opened_at"
            )
        ),
        sorted(Deal.objects.values_list("customer__customer_number", "title", "status", "amount")),
        sorted(Contract.objects.values_list("customer__customer_number", "product__code", "renewal_date")),
        sorted(Activity.objects.values_list("customer__customer_number", "subject", "occurred_at")),
        # primary keys (in keys and URLs) may differ between runs on PostgreSQL: sequences do not roll back
        sorted(
            TimelineEvent.objects.filter(department__in=["sales", "service"])
            .values_list("customer__customer_number", "kind", "title", "occurred_at")
            .order_by()
        ),
    )


def test_demo_is_deterministic_and_plants_the_scenarios():
    savepoint = transaction.savepoint()
    run_seeders(count=120, seed=7, today=TODAY, only=["sales", "service"], stdout=lambda *_: None)
    first = signature()
    customers = Customer.objects.count()
    gruber = Customer.objects.get(last_name="Gruber", first_name="Franz")
    basic = Contract.objects.get(customer=gruber)
    assert basic.product.code == "basic" and basic.renewal_date == TODAY + timedelta(weeks=6)
    ticket = Ticket.objects.get(customer=gruber)
    assert ticket.category == "complaint" and "Lieferung verspätet" in ticket.subject
    assert ticket.solved_at.date() == TODAY - timedelta(days=1)
    assert Satisfaction.objects.get(ticket=ticket).score == 2
    assert Deal.objects.filter(status="lost").exists() and Deal.objects.filter(status="won").exists()
    sales = TimelineEvent.objects.filter(department="sales").count() / customers
    service = TimelineEvent.objects.filter(department="service").count() / customers
    assert 2 <= sales <= 4.5 and 1.2 <= service <= 3
    late = Ticket.objects.filter(description__iregex=r"(verspätet|late delivery|delivered late|arrived late)")
    recent = late.filter(opened_at__date__gt=TODAY - timedelta(days=30)).count()
    before = late.filter(
        opened_at__date__lte=TODAY - timedelta(days=30), opened_at__date__gt=TODAY - timedelta(days=60)
    ).count()
    assert recent >= 1.5 * max(before, 1)

    transaction.savepoint_rollback(savepoint)
    assert not Ticket.objects.exists()
    run_seeders(count=120, seed=7, today=TODAY, only=["sales", "service"], stdout=lambda *_: None)
    assert signature() == first
