"""Dashboards stay linear as the data grows (issue #18): no dashboard query depends on PostgreSQL's
``work_mem`` to stay fast.

A ``x IN (SELECT ...)`` inside an aggregate or a projection is planned as a *hashed SubPlan* while the
subquery's rows fit in ``work_mem`` and as a plain SubPlan (one scan of the subquery per outer row) once
they do not: at 300k customers one dashboard request ran for minutes. A correlated subquery per row is a
plain SubPlan from the start. The test renders every dashboard with each filter on a seeded database,
EXPLAINs every query it ran, and fails on any SubPlan at all, hashed or not: a hashed one today is the
non-hashed one of a bigger company.
"""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.dashboards import dashboards
from customer360.models import Customer
from tests.conftest import client_for

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not settings.IS_POSTGRES, reason="query plans are PostgreSQL's (DATABASE_URL=postgres://...)"
    ),
]


def subplans(node: dict, found: list[str]) -> list[str]:
    name = node.get("Subplan Name", "")
    if "SubPlan" in name:  # an InitPlan runs once per query: harmless
        found.append(f"{name} ({node.get('Node Type')} on {node.get('Relation Name', '-')})")
    for child in node.get("Plans", []):
        subplans(child, found)
    return found


def plan_subplans(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return subplans(plan[0]["Plan"], [])


def test_no_dashboard_query_plans_a_subplan(django_user_model):
    call_command("seed_demo", customers=300, seed=3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    manager = django_user_model.objects.get(username="manager")
    owner = Customer.objects.exclude(owner=None).values_list("owner_id", flat=True).first()
    client = client_for(manager)
    today = timezone.localdate()
    filters = ["", "?team=Wien", f"?owner={owner}", "?segment=SME", "?country=AT", "?period=last_12_months"]
    # Custom periods: everything (read from the customers' final days) and one that cuts through.
    filters += [
        f"?period=custom&start={today - timedelta(days=1000)}&end={today}",
        f"?period=custom&start={today - timedelta(days=200)}&end={today - timedelta(days=30)}&country=AT",
    ]
    problems, explained = [], 0
    urls = [f"/dashboards/{board.key}/{query}" for board in dashboards.all() for query in filters]
    urls += [
        "/dashboards/",
        "/dashboards/performance/",
        "/dashboards/performance/?team=Wien",
        "/dashboards/feed/",
    ]
    for url in urls:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, url
        for sql in {q["sql"] for q in captured.captured_queries}:
            # Not a query: the change history's context set before a savepoint's release.
            if "SAVEPOINT" in sql:
                continue
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")) or "django_session" in sql:
                continue
            explained += 1
            for subplan in plan_subplans(sql):
                problems.append(f"{url}: {subplan}\n    {sql[:300]}")
    assert explained > 5 * len(dashboards.all())  # the walk really looked at the dashboards' queries
    assert not problems, "\n".join(problems)
