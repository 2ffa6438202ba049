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

from typing import NamedTuple

from django.db import connections
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


class IdArray(NamedTuple):
    """A bounded set of ids as the database wrote it: how many, and their array in its text form
    (PostgreSQL's ``{1,2,3}``, a JSON array on SQLite)."""

    count: int
    text: str


def read_ids(ids: QuerySet, cap: int) -> IdArray:
    """The first ``cap`` + 1 of ``ids`` (a queryset of one column of ids), counted and written as
    one array by the database. At a million customers a risk filter admits 26,000-50,000 of them:
    read as rows and written again as text in Python they took 15 ms, as one value 7 ms."""
    db = connections[ids.db]
    sql, params = ids.order_by()[: cap + 1].query.sql_with_params()
    gather = "array_agg(id)::text" if db.vendor == "postgresql" else "json_group_array(id)"
    with db.cursor() as cursor:
        cursor.execute(f"WITH ids (id) AS ({sql}) SELECT count(*), {gather} FROM ids", params)  # noqa: S608
        count, text = cursor.fetchone()
    empty = "{}" if db.vendor == "postgresql" else "[]"
    return IdArray(count, text or empty)


class _AmongIds(Func):
    """``id = ANY(<array>)`` with the ids as one constant array of the id's own type, which PostgreSQL
    hashes once and checks per row in constant time. An IN list of single parameters costs Django
    and the parser time per id; an array read by a subquery, or of another integer type (bigint =
    integer has no common hash function), is searched element by element for every row. The array
    comes as the database's own text form (:func:`read_ids`), so no id passes through Python."""

    output_field = BooleanField()

    def __init__(self, ids: IdArray):
        super().__init__(F("pk"))
        self.ids = ids

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        cast = self.source_expressions[0].output_field.cast_db_type(connection)
        return f"{column} = ANY(%s::{cast}[])", (*params, self.ids.text)

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return f"{column} IN (SELECT value FROM json_each(%s))", (*params, self.ids.text)  # noqa: S608


def among_ids(ids: IdArray) -> Q:
    """The customers whose id is one of ``ids`` (a bounded set read beforehand by :func:`read_ids`)."""
    return Q(_AmongIds(ids))
