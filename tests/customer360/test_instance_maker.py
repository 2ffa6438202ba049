"""customer360.bulk.instance_maker: the same unsaved instance as the model's constructor builds."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.models import Invoice, Payment
from crm.models import Contract, Product
from customer360.bulk import instance_maker


def _fields(obj) -> dict:
    return {name: value for name, value in obj.__dict__.items() if name != "_state"}


def test_same_fields_as_the_constructor():
    values = {"customer_id": 7, "number": "2026-0001", "due_date": date(2026, 1, 29), "created_by_id": None,
              "issue_date": date(2026, 1, 15), "created_at": datetime(2026, 1, 15, 9, tzinfo=UTC)}  # fmt: skip
    made = instance_maker(Invoice)(**values)
    built = Invoice(**values)
    assert _fields(made) == _fields(built)
    assert made._state.adding and made.pk is None


def test_callable_defaults_are_called_per_instance_unless_given():
    make = instance_maker(Payment)
    first, second = make(invoice_id=1, amount=Decimal("1.00")), make(invoice_id=1, amount=Decimal("2.00"))
    assert first.received_at <= second.received_at
    assert first.__dict__ is not second.__dict__ and first._state is not second._state


def test_a_related_object_is_kept_as_the_constructor_keeps_it():
    product = Product(pk=5, code="basic", name="Basic", price=Decimal("10.00"))
    made = instance_maker(Contract)(customer_id=3, product=product, start=date(2026, 1, 1))
    assert made.product_id == 5
    assert made._state.fields_cache["product"] is product


def test_unknown_names_are_refused():
    with pytest.raises(TypeError):
        instance_maker(Invoice)(customer=None, colour="red")
