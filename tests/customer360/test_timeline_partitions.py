"""The timeline partitioned by time (issue #18): layout, the beat task that creates partitions ahead,
keys that follow their events, the migration path from a plain table, indexes added later."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from customer360 import partitions, timeline
from customer360.migration_helpers import AddIndexConcurrently
from customer360.models import Customer, TimelineEvent, TimelineEventKey, customer_deletion_allowed
from customer360.tasks import ensure_timeline_partitions
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the timeline is partitioned on PostgreSQL only; SQLite keeps one table")


def _record(customer, key, when):
    return timeline.record(
        customer=customer,
        department="sales",
        kind="core.note",
        title="t",
        idempotency_key=key,
        occurred_at=when,
    )


def _partition_of(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {partitions.TABLE} WHERE id = %s", [event_id])  # noqa: S608
        return cursor.fetchone()[0]


def test_the_timeline_is_partitioned_by_year_with_history_and_default():
    _postgresql_only()
    names = [name for name, _bound, _rows in partitions.partitions()]
    assert partitions.HISTORY in names
    assert partitions.DEFAULT in names
    yearly = sorted(name for name in names if name.startswith(f"{partitions.TABLE}_y"))
    assert yearly, names
    # A new installation (the test database) starts with yearly partitions a few years back.
    assert yearly[0] == partitions.partition_name(datetime.now(UTC).year - partitions.FRESH_YEARS_BACK)
    assert int(yearly[-1][-4:]) >= datetime.now(UTC).year + partitions.YEARS_AHEAD


def test_events_land_in_the_partition_of_their_year_and_read_back_unchanged():
    _postgresql_only()
    customer = CustomerFactory()
    years = sorted(int(name[-4:]) for name, _bound, _rows in partitions.partitions() if "_y" in name)
    old, _ = _record(customer, "p:old", datetime(years[0] - 2, 5, 1, tzinfo=UTC))
    new, _ = _record(customer, "p:new", datetime(years[0], 3, 1, tzinfo=UTC))
    far, _ = _record(customer, "p:far", datetime(years[-1] + 5, 3, 1, tzinfo=UTC))
    assert _partition_of(old.pk) == partitions.HISTORY
    assert _partition_of(new.pk) == partitions.partition_name(years[0])
    assert _partition_of(far.pk) == partitions.DEFAULT
    # Newest first across partitions, as the 360 page reads them.
    assert list(customer.events.values_list("idempotency_key", flat=True)) == ["p:far", "p:new", "p:old"]


def test_the_beat_task_creates_the_next_partitions_and_moves_rows_out_of_the_default():
    _postgresql_only()
    customer = CustomerFactory()
    first_year = int(max(name for name, _b, _r in partitions.partitions() if "_y" in name)[-4:])
    far, _ = _record(customer, "p:ahead", datetime(first_year + 3, 7, 1, tzinfo=UTC))
    assert _partition_of(far.pk) == partitions.DEFAULT
    created = partitions.ensure_partitions(now=datetime(first_year + 3, 1, 2, tzinfo=UTC))
    assert created == [partitions.partition_name(y) for y in range(first_year + 1, first_year + 5)]
    assert _partition_of(far.pk) == partitions.partition_name(first_year + 3)
    # The move is not a deletion: the key still names the event, a retry still finds it.
    again, created_again = _record(customer, "p:ahead", datetime(first_year + 3, 7, 1, tzinfo=UTC))
    assert (again.pk, created_again) == (far.pk, False)
    assert ensure_timeline_partitions() == []  # today's partitions exist already


def test_deleting_an_event_frees_its_key():
    customer = CustomerFactory()
    first, _ = _record(customer, "p:gone", datetime(2024, 1, 1, tzinfo=UTC))
    assert TimelineEventKey.objects.filter(idempotency_key="p:gone", event_id=first.pk).exists()
    TimelineEvent.objects.filter(pk=first.pk).delete()
    assert not TimelineEventKey.objects.filter(idempotency_key="p:gone").exists()
    second, created = _record(customer, "p:gone", datetime(2024, 1, 1, tzinfo=UTC))
    assert created and second.pk != first.pk
    with customer_deletion_allowed():  # erasure: the customer's events go, and their keys
        Customer.objects.filter(pk=customer.pk).delete()
    assert not TimelineEventKey.objects.filter(idempotency_key="p:gone").exists()


def test_record_many_writes_one_key_per_new_event_and_skips_known_and_repeated_keys():
    customer = CustomerFactory()
    _record(customer, "m:1", None)
    batch = [
        timeline.EventData(
            customer_id=customer.pk, department="sales", kind="core.note", title="t", idempotency_key=k
        )
        for k in ["m:1", "m:2", "m:3", "m:2"]
    ]
    new_keys: set[str] = set()
    assert timeline.record_many(batch, announce=False, new_keys=new_keys) == 2
    assert new_keys == {"m:2", "m:3"}
    events = dict(TimelineEvent.objects.filter(customer=customer).values_list("idempotency_key", "id"))
    assert sorted(events) == ["m:1", "m:2", "m:3"]
    assert dict(TimelineEventKey.objects.values_list("idempotency_key", "event_id")) == events


@pytest.mark.django_db(transaction=True)
def test_an_index_added_later_is_built_on_every_partition():
    _postgresql_only()
    loader = MigrationLoader(connection)
    before = loader.project_state()
    after = before.clone()
    operation = AddIndexConcurrently(
        "timelineevent", models.Index(fields=["channel"], name="c360_probe_channel")
    )
    operation.state_forwards("customer360", after)
    with connection.schema_editor(atomic=False) as editor:
        operation.database_forwards("customer360", editor, before, after)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                "WHERE c.relname LIKE 'c360_probe_channel%%' ORDER BY 1"
            )
            found = dict(cursor.fetchall())
        expected = {"c360_probe_channel"} | {
            f"c360_probe_channel_{name.removeprefix(partitions.TABLE + '_')}"
            for name, _b, _r in partitions.partitions()
        }
        assert set(found) == expected
        assert all(found.values()), found  # the parent's index is valid: every partition's is attached
    finally:
        with connection.schema_editor(atomic=False) as editor:
            operation.database_backwards("customer360", editor, after, before)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'c360_probe_channel%%'")
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_an_installation_with_a_plain_timeline_migrates_without_losing_or_doubling_an_event():
    """The migration path: back to the plain table with its unique key (0030), events written there,
    then forward: the same events, one key each, partitioned, ids go on from the old sequence."""
    _postgresql_only()
    executor = MigrationExecutor(connection)
    plain = [("customer360", "0030_event_source_type_without_constraint")]
    # Back to 0030 unapplies every app's migrations that depend on a later core one: forward to all.
    latest = executor.loader.graph.leaf_nodes()
    customer = CustomerFactory()
    executor.migrate(plain)
    try:
        with connection.cursor() as cursor:
            assert not partitions.is_partitioned(cursor)
            cursor.execute(
                f"INSERT INTO {partitions.TABLE} (customer_id, occurred_at, recorded_at, department, kind, "  # noqa: S608
                "channel, direction, title, summary, actor_label, source_id, source_url, payload, audience, "
                "idempotency_key) SELECT %s, timestamptz '2021-01-01' + g * interval '1 day', now(), 'sales', "
                "'core.note', 'other', 'internal', 'old', '', '', '', '', '{}', '', 'old:' || g "
                "FROM generate_series(1, 1000) g RETURNING id",
                [customer.pk],
            )
            old_ids = {row[0] for row in cursor.fetchall()}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    with connection.cursor() as cursor:
        assert partitions.is_partitioned(cursor)
    assert (
        set(TimelineEvent.objects.filter(idempotency_key__startswith="old:").values_list("id", flat=True))
        == old_ids
    )
    keys = dict(
        TimelineEventKey.objects.filter(idempotency_key__startswith="old:").values_list(
            "event_id", "idempotency_key"
        )
    )
    assert set(keys) == old_ids and len(set(keys.values())) == 1000
    again, created = _record(customer, "old:17", None)
    assert not created and again.pk in old_ids
    fresh, created = _record(customer, "new:1", None)
    assert created and fresh.pk > max(old_ids)
