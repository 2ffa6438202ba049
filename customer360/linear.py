"""Conditions over customers that stay linear at any size (issue #18).

A condition is mostly ``pk IN (subquery)``. At the top of a WHERE, PostgreSQL makes that a
semi-join. Negated, or OR-ed with another condition, it becomes a SubPlan: NOT IN and OR'd IN are
answered with a hash only while the subquery's rows fit in work_mem (4 MB by default, about 200k
customers) and beyond that by scanning the subquery once per customer, i.e. quadratic. So:

* "not" is NOT EXISTS: an anti-join, or one index probe per customer;
* "any of" is one IN over the UNION of the parts: a semi-join again.

``tests/customer360/test_conditions_linear.py`` compiles every registered condition, alone, negated
and in an "any", and fails on NOT IN or an OR-ed IN.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from customer360.models import Customer


def negated(condition: Q) -> Q:
    """The customers for whom ``condition`` does not hold (NULLs included, as with ``~``)."""
    return ~Q(Exists(Customer.objects.filter(condition).filter(pk=OuterRef("pk"))))


def any_of(parts: list[Q]) -> Q:
    """The customers for whom any of ``parts`` holds."""
    if len(parts) == 1:
        return parts[0]
    first, *rest = (Customer.objects.filter(part).order_by().values("pk") for part in parts)
    return Q(pk__in=first.union(*rest))


def without_rows(rows: QuerySet, field: str = "customer_id") -> Q:
    """Customers that have none of ``rows`` (``field`` names the customer)."""
    return ~Q(Exists(rows.order_by().filter(**{field: OuterRef("pk")})))
