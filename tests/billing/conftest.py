"""Billing tests work with customers assigned to accounting (who may see and bill them)."""

import pytest

from tests.factories import assign, assigning_new_customers


@pytest.fixture(autouse=True)
def _accounting_customers():
    with assigning_new_customers("accounting"):
        yield


@pytest.fixture
def customer(customer):
    return assign(customer, "accounting")
