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

import json

from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet

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


class _AmongIds(Func):
    """``id = ANY(<array>)`` with the ids as one constant array of the id's own type, which PostgreSQL
    hashes once and checks per row in constant time. An IN list of single parameters costs Django
    and the parser time per id; an array read by a subquery, or of another integer type (bigint =
    integer has no common hash function), is searched element by element for every row."""

    output_field = BooleanField()

    def __init__(self, ids: list[int]):
        super().__init__(F("pk"))
        self.ids = [int(pk) for pk in ids]

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        cast = self.source_expressions[0].output_field.cast_db_type(connection)
        # The array's text form, written here: the driver's adaptation of a list costs 1.5 µs per id.
        literal = "{" + ",".join(map(str, self.ids)) + "}"
        return f"{column} = ANY(%s::{cast}[])", (*params, literal)

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return f"{column} IN (SELECT value FROM json_each(%s))", (*params, json.dumps(self.ids))  # noqa: S608


def among_ids(ids: list[int]) -> Q:
    """The customers whose id is one of ``ids`` (a bounded list read beforehand)."""
    return Q(_AmongIds(ids))
