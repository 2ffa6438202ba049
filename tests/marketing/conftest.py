"""Fixtures of the marketing tests: fake facts of other departments in the conditions registry."""

import operator

import pytest
from django.db.models import Q

from customer360.registry import Condition, conditions

OPS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class FakeFacts:
    """Facts billing and crm would register, held in dicts so the tests need neither app."""

    def __init__(self):
        self.overdue_days: dict[int, int] = {}
        self.open_complaint: set[int] = set()

    def overdue(self, op, value) -> Q:
        return Q(pk__in=[pk for pk, days in self.overdue_days.items() if OPS[op](days, value)])

    def complaint(self, op, value) -> Q:
        has = Q(pk__in=list(self.open_complaint))
        return has if value else ~has


@pytest.fixture
def fake_facts():
    facts = FakeFacts()
    added = [
        Condition(
            key="test.billing.overdue_days",
            label="Days overdue",
            department="accounting",
            value_type="int",
            operators=tuple(OPS),
            build=facts.overdue,
        ),
        Condition(
            key="test.crm.open_complaint",
            label="Open complaint",
            department="service",
            value_type="bool",
            build=facts.complaint,
        ),
    ]
    for condition in added:
        conditions.register(condition)
    yield facts
    for condition in added:
        conditions.items.pop(condition.key, None)


@pytest.fixture(autouse=True)
def _marketing_customers():
    """Marketing's tests work with customers assigned to marketing (who may see and write for them)."""
    from tests.factories import assigning_new_customers

    with assigning_new_customers("marketing"):
        yield


@pytest.fixture
def customer(customer):
    from tests.factories import assign

    return assign(customer, "marketing")
