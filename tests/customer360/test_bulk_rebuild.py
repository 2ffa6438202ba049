"""Bulk-load mode across transactions (the seed's lanes and readers): what it dropped is built again
on two connections side by side (customer360.bulk_rebuild), every foreign key checked, and a row
that breaks a key fails the rebuild without leaving the other indexes unbuilt."""

import pytest
from django.db import IntegrityError, connection

from billing.models import Invoice
from customer360 import bulk_rebuild, timeline
from customer360.bulk import deferred_indexes_across_transactions
from customer360.models import Customer, CustomerIdentity, TimelineEvent
from tests.customer360.test_bulk import _definitions
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)
MODELS = (TimelineEvent, CustomerIdentity, Invoice)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("bulk-load mode is PostgreSQL's")


def _keys(table: str) -> dict[str, bool]:
    """The table's foreign keys: name -> checked (convalidated)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        return dict(cursor.fetchall())


def _analysed(table: str):
    """When the table was last analysed by a statement (None: never)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s", [table])
        return cursor.fetchone()[0]


def _statements(monkeypatch) -> list[str]:
    """Every statement the rebuild runs on its connections side by side."""
    seen = []
    run = bulk_rebuild.side_by_side

    def side_by_side(jobs):
        for job in jobs:
            for statement in job:
                seen.append(statement)
        run(jobs)

    monkeypatch.setattr(bulk_rebuild, "side_by_side", side_by_side)
    return seen


def test_every_index_and_checked_key_is_back_and_the_tables_are_analysed(monkeypatch):
    tables = [model._meta.db_table for model in MODELS]
    before = {table: _definitions(table) for table in tables}
    analysed = {
        table: _analysed(table) for table in (CustomerIdentity._meta.db_table, Invoice._meta.db_table)
    }
    statements = _statements(monkeypatch)
    with deferred_indexes_across_transactions(*MODELS) as dropped:
        assert sorted(dropped) == sorted(tables)
        assert all(len(_definitions(table)) < len(before[table]) for table in tables)
        customer = CustomerFactory()  # commits: the factory's identities and created event
        timeline.record_many(
            [
                timeline.EventData(
                    customer_id=customer.pk,
                    department="sales",
                    kind="note.added",
                    title=f"Note {n}",
                    idempotency_key=f"test:rebuild:{n}",
                )
                for n in range(20)
            ],
            announce=False,
        )
    assert {table: _definitions(table) for table in tables} == before
    assert all(all(_keys(table).values()) and _keys(table) for table in tables)
    for table, last in analysed.items():
        assert _analysed(table) is not None and (last is None or _analysed(table) > last)
    # The timeline's keys are added whole (a partitioned table takes none NOT VALID), the others'
    # checked after they were declared NOT VALID.
    timeline_table = TimelineEvent._meta.db_table
    assert any(s.startswith(f'ALTER TABLE "{timeline_table}" ADD CONSTRAINT') for s in statements)
    assert any(
        s.startswith('ALTER TABLE "customer360_customeridentity" VALIDATE CONSTRAINT') for s in statements
    )
    assert TimelineEvent.objects.filter(customer=customer, kind="note.added").count() == 20


def test_a_row_that_breaks_a_key_fails_the_rebuild_and_everything_else_is_built():
    tables = [model._meta.db_table for model in MODELS]
    before = {table: _definitions(table) for table in tables}
    identities = CustomerIdentity._meta.db_table
    missing = (Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    try:
        # Without its foreign key the table takes an identity of a customer that does not exist.
        with (
            pytest.raises(IntegrityError, match="foreign key"),
            deferred_indexes_across_transactions(*MODELS),
        ):
            CustomerIdentity.objects.create(customer_id=missing, kind="email", value="nobody@example.com")
        # Every index is back; the broken key stays, declared but not checked.
        assert {table: _definitions(table) for table in tables} == before
        assert list(_keys(identities).values()) == [False]
        assert all(_keys(TimelineEvent._meta.db_table).values()) and _keys(TimelineEvent._meta.db_table)
    finally:
        CustomerIdentity.objects.filter(customer_id=missing).delete()
        with connection.cursor() as cursor:
            for name, checked in _keys(identities).items():
                if not checked:
                    cursor.execute(f'ALTER TABLE "{identities}" VALIDATE CONSTRAINT "{name}"')
    assert all(_keys(identities).values())


def _vacuumed(table: str):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = %s", [table]
        )
        return cursor.fetchone()


def test_the_seeds_vacuum_vacuums_and_analyses_every_table_and_partition():
    customer = CustomerFactory()
    tables = [Customer._meta.db_table, CustomerIdentity._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass",
            [TimelineEvent._meta.db_table],
        )
        partitions = [row[0] for row in cursor.fetchall()]
    before = {table: _vacuumed(table) for table in [*tables, *partitions]}
    vacuumed = bulk_rebuild.vacuum_analyze_all()
    assert vacuumed > len(tables) + len(partitions)
    for table, (last_vacuum, last_analyze) in before.items():
        now_vacuum, now_analyze = _vacuumed(table)
        assert now_vacuum is not None and (last_vacuum is None or now_vacuum > last_vacuum), table
        assert now_analyze is not None and (last_analyze is None or now_analyze > last_analyze), table
    # The customer's rows are visible to index-only scans: its page is all-visible now.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relallvisible FROM pg_class WHERE oid = %s::regclass", [Customer._meta.db_table]
        )
        assert cursor.fetchone()[0] >= 1
    assert Customer.objects.filter(pk=customer.pk).exists()
