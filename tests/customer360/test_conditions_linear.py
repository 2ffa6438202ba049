"""Conditions and rules stay linear at a million customers (issue #18): no registered condition, for
any operator and value, alone, negated (NOT) or in an ANY, compiles to NOT IN (subquery) or to an
IN (subquery) OR-ed with another. PostgreSQL answers those with a hash only while the subquery's
rows fit in work_mem (4 MB by default); beyond that it scans them once per customer. NOT EXISTS is
an anti-join, and an IN over a UNION a semi-join, at any size."""

import re

import pytest

from customer360.conditions import RuleError, to_q
from customer360.models import Customer
from customer360.registry import conditions

pytestmark = pytest.mark.django_db

VALUES = {"bool": [True, False], "int": [0, 1, 2], "decimal": [0, 1], "str": ["a"], "choice": []}
NEGATED_IN = re.compile(r"NOT \(?\s*\"?[\w\"\.]*\"?\s*IN \(SELECT", re.IGNORECASE)
OR_IN = re.compile(r"\bOR\s+\(?\s*\"?[\w\"\.]*\"?\s*IN \(SELECT", re.IGNORECASE)


def _sql(q) -> str:
    return str(Customer.objects.filter(q).query)


def test_the_check_sees_a_not_in():
    from django.db.models import Q

    from customer360.models import TimelineEvent

    assert NEGATED_IN.search(_sql(~Q(pk__in=TimelineEvent.objects.values("customer_id"))))


def test_the_check_sees_an_in_or_ed_with_another():
    from django.db.models import Q

    from customer360.models import TimelineEvent

    q = Q(country="AT") | Q(pk__in=TimelineEvent.objects.values("customer_id"))
    assert OR_IN.search(_sql(q))


def test_no_rule_compiles_to_not_in_or_to_an_or_of_in_subqueries():
    checked, found = 0, []
    for condition in conditions.all():
        values = VALUES[condition.value_type] or [value for value, _label in condition.choices]
        for op in condition.operators:
            for value in values:
                rule = {"field": condition.key, "op": op, "value": value}
                other = {"field": "customer.country", "op": "eq", "value": "AT"}
                try:
                    compiled = [to_q(rule), to_q({"not": rule}), to_q({"any": [rule, other]})]
                except (RuleError, ValueError, TypeError):
                    continue
                checked += 1
                for q in compiled:
                    sql = _sql(q)
                    if NEGATED_IN.search(sql) or OR_IN.search(sql):
                        found.append(f"{condition.key} {op} {value!r}")
    assert checked > 50
    assert found == []
