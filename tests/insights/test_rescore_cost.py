"""Rescoring one customer (what the worker does after every change) costs the same number of
queries whatever the size of the install: more customers, more history, more open
recommendations and scores of others, more actions (issue #20: event -> recommendation latency)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customer360.models import Customer, Score
from insights import services
from insights.engine import cached_catalogue, forget_catalogue
from insights.models import Action, ActionRule, ContactPolicy, Recommendation
from tests.insights.factories import event, gruber_history, history

pytestmark = pytest.mark.django_db


def _grow(customers: int) -> list[Customer]:
    """``customers`` more customers, each with some history, all scored (open recommendations and
    published scores for each)."""
    start = Customer.objects.count()
    made = Customer.objects.bulk_create(
        Customer(first_name="Kunde", last_name=f"Nummer {start + i}", customer_number=f"B-{start + i:06d}", email=f"bulk{start + i}@example.at",
                 country="AT", lifecycle=Customer.Lifecycle.CUSTOMER)
        for i in range(customers)
    )  # fmt: skip
    history(
        *(
            e
            for c in made
            for e in (
                event(c, "contract.started", "sales", 200, contract_id=c.pk),
                event(c, "ticket.opened", "service", 5, ticket_id=c.pk, category="complaint"),
                event(c, "invoice.issued", "accounting", 40, invoice_id=c.pk, amount=300),
            )
        )
    )
    services.customers_rescore(customer_ids=[c.pk for c in made])
    return made


def _more_actions(n: int) -> None:
    """``n`` more active actions, copies of "upsell" with its rules."""
    upsell = Action.objects.get(key="upsell")
    rules = list(ActionRule.objects.filter(action=upsell))
    for i in range(n):
        copy = Action.objects.get(pk=upsell.pk)
        copy.pk = None
        copy.key = f"upsell_copy_{i}"
        copy.save()
        for rule in rules:
            rule.pk = None
            rule.action = copy
            rule.save()
    forget_catalogue()


def _queries_for_one(customer) -> tuple[int, list[str]]:
    cached_catalogue()  # warm: the worker keeps its catalogue between tasks
    services.customers_rescore(customer_ids=[customer.pk])
    with CaptureQueriesContext(connection) as queries:
        services.customers_rescore(customer_ids=[customer.pk])
    return len(queries), [q["sql"] for q in queries.captured_queries]


def test_rescoring_one_customer_costs_the_same_queries_at_200_and_1000_customers(customer):
    ContactPolicy.objects.update(holdout_share=0.0)
    gruber_history(customer)
    _grow(199)
    small, small_sql = _queries_for_one(customer)
    recs_small = Recommendation.objects.filter(status="open").count()

    _grow(800)
    _more_actions(5)
    large, large_sql = _queries_for_one(customer)

    assert Customer.objects.count() == 1000
    assert Recommendation.objects.filter(status="open").count() > recs_small
    assert Score.objects.filter(kind__startswith="propensity:").values("customer").distinct().count() > 900
    # Same statements, not just as many: nothing per other customer, action or score.
    assert large == small, "\n".join(sorted(set(large_sql) ^ set(small_sql)))
    # And still a handful (features, overlays, the write): not one per action.
    assert small <= 25
    # The customer was really scored, with the new actions considered.
    mine = Score.objects.filter(customer=customer, kind__startswith="propensity:")
    assert mine.filter(kind__startswith="propensity:upsell_copy_").count() in (0, 5)
    assert Recommendation.objects.filter(customer=customer, status="open").exists()
