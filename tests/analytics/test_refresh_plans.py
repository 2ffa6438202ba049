"""The roll-up refresh stays linear as the data grows (issue #18): no statement of a full or an
incremental refresh of the success days plans a SubPlan. A ``NOT IN (SELECT ...)`` over the scores (a full refresh of
the success days' groups) was one: PostgreSQL hashes it only while the subquery fits in ``work_mem``
and otherwise rescans it for every row, and at a million customers the seed's refresh ran for
minutes until it was stopped. See ``test_dashboard_plans`` for the dashboards.

(Other families of the refresh still plan correlated "latest of" lookups, one index probe per row,
e.g. a customer's last cancelled order: linear, but not yet held to this rule.)"""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import services
from tests.analytics.test_dashboard_plans import plan_subplans

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not settings.IS_POSTGRES, reason="query plans are PostgreSQL's (DATABASE_URL=postgres://...)"
    ),
]
PLANNED = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")


def test_no_statement_of_the_success_days_refresh_plans_a_subplan():
    call_command("seed_demo", customers=300, seed=3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as full:
        services.rollups_refresh(full=True)
    with CaptureQueriesContext(connection) as incremental:
        services.rollups_refresh()
    statements = [q["sql"] for q in [*full.captured_queries, *incremental.captured_queries]]
    planned = [
        sql
        for sql in statements
        if sql.lstrip().upper().startswith(PLANNED) and "analytics_successday" in sql
    ]
    assert sum(sql.startswith("UPDATE") for sql in planned) >= 5  # 3 full, 2 incremental
    problems = [(found, sql[:300]) for sql in planned if (found := plan_subplans(sql))]
    assert not problems, problems
