"""Change history (django-pghistory triggers, PostgreSQL only): a change through a page, the API and
an import run each leaves one history row with the right actor, path and before/after; COPY too."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection, transaction

from crm.models import Deal, DealHistory
from customer360 import bulk
from customer360.audit import history
from customer360.models import Customer, CustomerHistory, CustomerIdentityHistory
from tests.conftest import client_for, token_client_for
from tests.crm.factories import make_deal
from tests.factories import CustomerFactory
from tests.sources.factories import DataSourceFactory
from tests.sources.helpers import run_import

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not settings.IS_POSTGRES,
        reason="history triggers exist on PostgreSQL only; SQLite records no change history (README Audit)",
    ),
]
MAPPING = {"fields": [{"field": "email", "column": "mail"}, {"field": "city", "column": "city"}]}


def _updates(model, obj_id):
    return list(model.objects.filter(pgh_obj_id=obj_id, pgh_label="update").order_by("pgh_id"))


def test_page_api_and_import_changes_leave_history_with_actor_path_and_values(
    rep, admin_user, import_sandbox
):
    deal = make_deal(rep, title="Premium", amount=890)
    page = client_for(rep).post(
        f"/sales/deals/{deal.pk}/edit/", {"title": "Premium Plus", "amount": "890.00", "owner": rep.pk}
    )
    assert page.status_code == 302
    api = token_client_for(rep).patch(f"/api/crm/deals/{deal.pk}/", {"amount": "990.00"}, format="json")
    assert api.status_code == 200, api.content
    source = DataSourceFactory(slug="erp-history")
    run_import(source, b"mail,city\nhuber@example.at,Wien\n", MAPPING)
    second = run_import(source, b"mail,city\nhuber@example.at,Linz\n", MAPPING)
    assert second.updated == 1

    by_page, by_api = _updates(DealHistory, deal.pk)
    assert (by_page.title, by_api.title) == ("Premium Plus", "Premium Plus")
    assert by_page.pgh_context["user"] == rep.pk and by_page.pgh_context["path"] == "page"
    assert by_page.pgh_context["url"] == f"/sales/deals/{deal.pk}/edit/"
    assert by_api.pgh_context["user"] == rep.pk and by_api.pgh_context["path"] == "api"
    assert str(by_api.amount) == "990.00"
    customer = Customer.objects.get(email="huber@example.at")
    (by_import,) = _updates(CustomerHistory, customer.pk)
    assert by_import.city == "Linz"
    assert by_import.pgh_context["path"] == "import" and by_import.pgh_context["run"] == second.pk

    # What the History page shows: who, which path, the field before -> after.
    from pghistory.models import Events

    changes = [history.to_change(e) for e in Events.objects.tracks(deal).order_by("pgh_id")]
    assert [c.label for c in changes] == ["insert", "update", "update"]
    assert ("Title", "Premium", "Premium Plus") in changes[1].fields
    assert [(n, float(b), float(a)) for n, b, a in changes[2].fields] == [("Amount (EUR)", 890, 990)]
    assert [c.path for c in changes[1:]] == ["page", "api"]


def test_a_bulk_copy_import_leaves_history_rows_with_its_context():
    with history.context(path="import", run=4711), transaction.atomic():
        bulk.bulk_insert(
            [
                Customer(customer_number=f"C-9{n:05d}", last_name=f"Copy{n}", email=f"copy{n}@example.at")
                for n in range(3)
            ]
        )
    rows = CustomerHistory.objects.filter(last_name__startswith="Copy", pgh_label="insert")
    assert rows.count() == 3
    assert {r.pgh_context["run"] for r in rows} == {4711}
    assert {r.pgh_context["path"] for r in rows} == {"import"}


def test_update_from_leaves_history_rows():
    customer = CustomerFactory(city="Wien")
    with history.context(path="task", task="test"):
        bulk.update_rows(Customer, ["city"], [(customer.pk, "Graz")])
    (row,) = _updates(CustomerHistory, customer.pk)
    assert row.city == "Graz" and row.pgh_context["task"] == "test"


def test_one_statement_updating_many_rows_records_exactly_the_changed_ones():
    """The update trigger keeps the rows whose values changed (new rows equal to no old row): of
    300 customers updated in one statement, the 200 with a new city get a history row, the 100 set
    to their own city get none, and each row carries its own new value."""
    customers = [CustomerFactory(city="Wien") for _ in range(300)]
    rows = [(c.pk, "Wien" if i % 3 == 0 else f"Graz {i}") for i, c in enumerate(customers)]
    with history.context(path="task", task="test"):
        bulk.update_rows(Customer, ["city"], rows)
    recorded = dict(
        CustomerHistory.objects.filter(
            pgh_obj_id__in=[c.pk for c in customers], pgh_label="update"
        ).values_list("pgh_obj_id", "city")
    )
    assert recorded == {pk: city for pk, city in rows if city != "Wien"}
    assert len(recorded) == 200


def test_paused_history_writes_no_rows():
    with history.paused(), transaction.atomic():
        bulk.bulk_insert([Customer(customer_number="C-800001", last_name="Seeded")])
        Customer.objects.create(last_name="SeededToo")
    assert not CustomerHistory.objects.filter(last_name__startswith="Seeded").exists()


def test_scrub_customer_removes_every_history_row_with_the_persons_data(rep):
    customer = CustomerFactory(email="erase.me@example.at", phone="+43 664 1234567", last_name="Erasable")
    customer.identities.create(kind="email", value="erase.me@example.at")
    make_deal(rep, customer)
    customer.city = "Graz"
    customer.save()
    other = CustomerFactory(last_name="Stays")
    removed = history.scrub_customer(customer.pk)
    assert removed["customer360.CustomerHistory"] == 2 and removed["crm.DealHistory"] == 1
    assert removed["customer360.CustomerIdentityHistory"] == 1
    with connection.cursor() as cursor:
        for model in history.history_models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(
                f"SELECT count(*) FROM {table} t WHERE row_to_json(t)::text ILIKE %s", ["%erase.me%"]
            )  # noqa: S608
            assert cursor.fetchone()[0] == 0, model
    assert CustomerHistory.objects.filter(pgh_obj_id=other.pk).exists()
    assert not CustomerIdentityHistory.objects.filter(customer_id=customer.pk).exists()


def test_history_pages_show_the_changes_to_those_who_may_see_the_record(rep, rep2, admin_user):
    customer = CustomerFactory(owner=rep, city="Wien")
    deal = make_deal(rep, customer, title="Premium")
    client_for(rep).post(
        f"/sales/deals/{deal.pk}/edit/", {"title": "Premium Plus", "amount": "890.00", "owner": rep.pk}
    )
    page = client_for(rep).get(f"/customers/{customer.pk}/history/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Premium Plus" in text and "Premium →" in text.replace("Premium → Premium Plus", "Premium →")
    assert rep.get_username() in text or rep.get_full_name() in text
    record = client_for(rep).get(f"/history/crm.deal/{deal.pk}/")
    assert record.status_code == 200 and "Premium Plus" in record.content.decode()
    # Out of scope answers like a missing record.
    assert client_for(rep2).get(f"/customers/{customer.pk}/history/").status_code == 404
    assert client_for(rep2).get(f"/history/crm.deal/{deal.pk}/").status_code == 404
    assert client_for(rep).get(f"/history/crm.nothing/{deal.pk}/").status_code == 404
    assert Deal.objects.filter(pk=deal.pk).exists()
    # The admin's audit: the change history filtered by user and path, and its CSV export.
    admin = client_for(admin_user)
    audit = admin.get(f"/audit/changes/?user={rep.pk}&path=page")
    assert audit.status_code == 200 and "Premium Plus" in audit.content.decode()
    exported = admin.get(f"/audit/changes/?customer={customer.pk}&format=csv")
    assert "Premium Plus" in exported.content.decode("utf-8-sig")
