"""The customer list's first page at a million customers (issue #18): PostgreSQL can walk an index in
the list's order and stop after one page, for every sort, and the visibility rule checks each row it
walks (EXISTS on the assignments) instead of reading every assignment of the department first.

The planner picks the cheapest plan for the data at hand (on a small test table a sort is cheaper),
so the tests switch sorting and sequential scans off: what they assert is that an index walk in the
page's order exists, i.e. the index matches the ORDER BY, collation included."""

import json

import pytest
from django.db import connection
from django.http import QueryDict

from customer360 import customer_list
from customer360.models import Customer, CustomerAssignment

pytestmark = pytest.mark.django_db


def _plan(user, query: str) -> dict:
    customers, _active = customer_list.filtered_customers(user, QueryDict(query))
    ordered, _fields = customer_list.ordered(customers, QueryDict(query).get("sort", "name"))
    sql, params = ordered[: customer_list.PAGE_SIZE + 1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


@pytest.fixture
def listed(marketing_user, rep):
    Customer.objects.bulk_create(
        Customer(customer_number=f"P-{i:04d}", last_name=f"Plan {i}", first_name="Test") for i in range(40)
    )
    CustomerAssignment.objects.bulk_create(
        CustomerAssignment(customer=c, department="marketing") for c in Customer.objects.all()[:30]
    )


@pytest.mark.parametrize("sort", sorted(customer_list.SORTS))
@pytest.mark.parametrize("who", ["marketing_user", "rep"])
def test_the_first_page_walks_an_index_in_the_lists_order(listed, request, sort, who):
    if connection.vendor != "postgresql":
        pytest.skip("the ICU-collated name index is PostgreSQL's")
    user = request.getfixturevalue(who)
    plan = _plan(user, f"sort={sort}")
    nodes = list(_nodes(plan))
    types = [n["Node Type"] for n in nodes]
    # An incremental sort (ties of created_at ordered by id as they stream past) is fine; a Sort
    # node would read every visible customer before the first row.
    assert "Sort" not in types, types
    customer_scans = [n for n in nodes if n.get("Relation Name") == "customer360_customer"]
    assert customer_scans and all("Index" in n["Node Type"] for n in customer_scans), customer_scans
    if who == "marketing_user":
        # The department's assignments (most customers, for marketing) are not read whole into a
        # hash first (a hashed SubPlan): each walked row is probed. A rep's own assignments, few
        # whatever the size of the company, may be hashed.
        hashed = [n.get("Filter") for n in nodes if "hashed SubPlan" in n.get("Filter", "")]
        assert not hashed, hashed


def test_the_visibility_rule_still_decides(listed, marketing_user, rep):
    """The same rule, written as EXISTS: marketing sees its department's 30 customers, the rep the
    unowned ones (all 40 are unowned) and no assignment makes a customer visible twice."""
    assert Customer.objects.visible_to(marketing_user).count() == 30
    assert Customer.objects.visible_to(rep).count() == 40
    CustomerAssignment.objects.create(customer=Customer.objects.order_by("pk").last(), user=marketing_user)
    assert Customer.objects.visible_to(marketing_user).count() == 31
    CustomerAssignment.objects.create(customer=Customer.objects.order_by("pk").first(), user=marketing_user)
    assert Customer.objects.visible_to(marketing_user).count() == 31  # already visible by department
