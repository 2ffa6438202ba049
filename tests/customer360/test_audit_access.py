"""The access log: a 360 page view, a drill-down CSV export and an API read each leave exactly one
row; the log cannot be changed through the app, the API or (on PostgreSQL) SQL."""

from __future__ import annotations

import csv
import io

import pytest
from django.conf import settings
from django.contrib import admin
from django.db import DatabaseError, connection, transaction
from django.urls import Resolver404, resolve

from customer360.audit.access import Action, record_access, rows_about
from customer360.audit.models import AccessLog, AccessLogCustomer, AppendOnly
from customer360.models import Customer
from tests.conftest import client_for, token_client_for
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_opening_a_360_page_leaves_one_row(rep):
    customer = CustomerFactory(owner=rep)
    response = client_for(rep).get(
        f"/customers/{customer.pk}/", HTTP_USER_AGENT="Firefox/140", REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 200
    assert f'href="/customers/{customer.pk}/history/"' in response.content.decode()
    (entry,) = AccessLog.objects.all()
    assert (entry.action, entry.user, entry.username, entry.rows) == (Action.VIEW_360, rep, rep.username, 1)
    assert (entry.client_ip, entry.user_agent) == ("10.1.2.3", "Firefox/140")
    assert list(rows_about(customer.pk)) == [entry]
    assert not rows_about(customer.pk + 1).exists()


def test_a_managers_drill_down_csv_export_leaves_one_row_naming_every_customer(manager):
    customers = [CustomerFactory(lifecycle=Customer.Lifecycle.CUSTOMER) for _ in range(3)]
    CustomerFactory(lifecycle=Customer.Lifecycle.LEAD)
    response = client_for(manager).get(
        "/dashboards/customers/customers.lifecycle/drill/?bucket=customer&format=csv"
    )
    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    (entry,) = AccessLog.objects.all()
    assert entry.action == Action.EXPORT and entry.user == manager
    assert entry.rows == len(lines) - 1 == 3 and entry.customer_count == 3
    assert set(AccessLogCustomer.objects.values_list("customer_id", flat=True)) == {c.pk for c in customers}
    assert "customers.lifecycle" in entry.what


def test_api_reads_by_a_token_leave_one_row_per_request(rep):
    customer = CustomerFactory(owner=rep)
    client = token_client_for(rep)
    assert client.get(f"/api/customers/{customer.pk}/").status_code == 200
    assert client.get(f"/api/customers/{customer.pk}/timeline/").status_code == 200
    assert client.get("/api/customers/").status_code == 200
    entries = list(AccessLog.objects.order_by("id"))
    assert [e.action for e in entries] == [Action.API_READ] * 3
    assert all(e.token_id is not None and e.user == rep for e in entries)
    assert [e.what for e in entries] == ["api customer", "api timeline", "api customers"]
    assert rows_about(customer.pk).count() == 3


def test_error_file_download_is_an_export(admin_user, import_sandbox):
    from tests.sources.factories import DataSourceFactory
    from tests.sources.helpers import run_import

    run = run_import(
        DataSourceFactory(),
        b"mail\nnot-an-email\n",
        {"fields": [{"field": "email", "column": "mail", "required": True}]},
    )
    assert run.error_file
    response = client_for(admin_user).get(f"/sources/runs/{run.pk}/errors.csv")
    assert response.status_code == 200
    (entry,) = AccessLog.objects.filter(action=Action.EXPORT)
    assert entry.rows == run.failed == 1


def test_the_log_cannot_be_changed_through_the_app(rep):
    entry = record_access(None, Action.EXPORT, customers=[1, 2], what="test", user=rep)
    entry.rows = 99
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AccessLog.objects.filter(pk=entry.pk).update(rows=0)
    with pytest.raises(AppendOnly):
        AccessLog.objects.all().delete()
    with pytest.raises(AppendOnly):
        AccessLogCustomer.objects.all().delete()
    entry.refresh_from_db()
    assert entry.rows == 2 and AccessLogCustomer.objects.count() == 2
    # Read-only in the Django admin (tests/customer360/test_audit_admin.py), no API route.
    registered = admin.site._registry[AccessLog]
    request = type("Request", (), {"user": None})()
    assert not registered.has_add_permission(request)
    assert not registered.has_change_permission(request) and not registered.has_delete_permission(request)
    assert AccessLogCustomer not in admin.site._registry
    for path in ("/api/access-log/", "/api/audit/access/", "/api/accesslog/"):
        with pytest.raises(Resolver404):
            resolve(path)


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="the append-only trigger exists on PostgreSQL only")
def test_the_database_refuses_update_and_delete(rep):
    entry = record_access(None, Action.VIEW_360, customers=[5], user=rep)
    table = AccessLog._meta.db_table
    for sql in (f"UPDATE {table} SET rows = 0", f"DELETE FROM {table}"):  # noqa: S608
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    entry.refresh_from_db()
    assert entry.rows == 1


def test_audit_pages_are_for_admins_and_their_csv_export_is_logged(rep, admin_user):
    customer = CustomerFactory(owner=rep)
    client_for(rep).get(f"/customers/{customer.pk}/")
    admin_client = client_for(admin_user)
    page = admin_client.get(f"/audit/access/?customer={customer.pk}&action=view_360")
    assert page.status_code == 200 and rep.username in page.content.decode()
    assert (
        "No accesses"
        in admin_client.get(f"/audit/access/?customer={customer.pk}&action=export").content.decode()
    )
    exported = admin_client.get(f"/audit/access/?user={rep.pk}&format=csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][1] == rep.username
    assert AccessLog.objects.filter(user=admin_user, action=Action.EXPORT, what="access log").count() == 1
    assert admin_client.get("/audit/access/?start=nonsense").status_code == 200
    for url in ("/audit/access/", "/audit/changes/", "/audit/retention/"):
        assert client_for(rep).get(url).status_code == 403


def test_the_history_page_says_when_no_history_is_recorded(rep):
    customer = CustomerFactory(owner=rep)
    page = client_for(rep).get(f"/customers/{customer.pk}/history/").content.decode()
    says_none = "recorded on PostgreSQL only" in page
    assert says_none is (not settings.IS_POSTGRES)


@pytest.mark.django_db(transaction=True)
def test_a_page_views_row_commits_in_its_one_insert_without_waiting_for_the_disk(rep, settings):
    """The 360 page's only write: one statement that turns synchronous_commit off for its own
    transaction (PostgreSQL); exports and rows inside a caller's transaction keep the full wait."""
    from django.test.utils import CaptureQueriesContext

    customer = CustomerFactory(owner=rep)
    client = client_for(rep)
    with CaptureQueriesContext(connection) as page:
        assert client.get(f"/customers/{customer.pk}/").status_code == 200
    inserts = [q["sql"] for q in page.captured_queries if "customer360_accesslog" in q["sql"]]
    assert len(inserts) == 1 and "INSERT" in inserts[0]
    assert ("'synchronous_commit', 'off'" in inserts[0]) == (connection.vendor == "postgresql")
    (entry,) = AccessLog.objects.all()
    assert (entry.action, entry.customer_id, entry.user) == (Action.VIEW_360, customer.pk, rep)

    settings.C360_ACCESS_LOG_SYNCHRONOUS_COMMIT = True
    with CaptureQueriesContext(connection) as waiting:
        assert client.get(f"/customers/{customer.pk}/").status_code == 200
    assert not [q for q in waiting.captured_queries if "synchronous_commit" in q["sql"]]
    settings.C360_ACCESS_LOG_SYNCHRONOUS_COMMIT = False
    with transaction.atomic(), CaptureQueriesContext(connection) as inside:
        record_access(None, Action.VIEW_360, customers=[customer.pk], user=rep)
    assert not [q for q in inside.captured_queries if "synchronous_commit" in q["sql"]]
    assert AccessLog.objects.filter(customer_id=customer.pk).count() == 3
