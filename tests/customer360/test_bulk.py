"""Bulk-load mode (customer360.bulk.deferred_indexes): indexes and foreign keys of empty tables are
dropped for a load and rebuilt after it; an error leaves every index in place."""

import json

import pytest
from django.db import connection, transaction

from customer360 import timeline
from customer360.bulk import deferred_indexes
from customer360.models import TimelineEvent
from tests.factories import CustomerFactory


def _definitions(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])
        indexes = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'", [table]
        )
        return indexes | {f"fk {row[0]}" for row in cursor.fetchall()}


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("bulk-load mode is PostgreSQL's (elsewhere deferred_indexes does nothing)")


def _event(customer, n):
    return timeline.EventData(
        customer_id=customer.pk, department="sales", kind="note.added", title=f"Note {n}",
        idempotency_key=f"test:bulk:{n}",
    )  # fmt: skip


@pytest.mark.django_db
def test_empty_table_loads_without_secondary_indexes_and_gets_them_back(postgres_only):
    table = TimelineEvent._meta.db_table
    TimelineEvent.objects.all().delete()
    before = _definitions(table)
    customer = CustomerFactory()
    with transaction.atomic(), deferred_indexes(TimelineEvent) as tables:
        assert tables == [table]
        during = _definitions(table)
        # Only the primary key stays (the idempotency keys' unique index is on their own table).
        assert len(during) == 1 and all("UNIQUE" in d for d in during)
        written = timeline.record_many([_event(customer, n) for n in range(50)], announce=False)
        again = timeline.record_many([_event(customer, n) for n in range(50)], announce=False)
    assert (written, again) == (50, 0)
    assert _definitions(table) == before
    assert TimelineEvent.objects.filter(customer=customer).count() == 50
    # On the partitioned timeline the rebuilt indexes cover every partition (an index created
    # "ON ONLY" the parent would cover none and stay invalid).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass",
            [table],
        )
        parent = dict(cursor.fetchall())
        cursor.execute(
            "SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass AND x.indisvalid",
            [table],
        )
        (on_partitions,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", [table])
        (partition_count,) = cursor.fetchone()
    assert all(parent.values()), parent
    assert on_partitions == len(parent) * partition_count


@pytest.mark.django_db
def test_a_table_with_rows_keeps_its_indexes(postgres_only):
    table = TimelineEvent._meta.db_table
    customer = CustomerFactory()
    timeline.record_many([_event(customer, 1)], announce=False)
    before = _definitions(table)
    with transaction.atomic(), deferred_indexes(TimelineEvent) as tables:
        assert tables == []
        assert _definitions(table) == before


@pytest.mark.django_db
def test_an_error_during_the_load_rolls_back_rows_and_drops(postgres_only):
    table = TimelineEvent._meta.db_table
    TimelineEvent.objects.all().delete()
    before = _definitions(table)
    customer = CustomerFactory()
    with pytest.raises(ZeroDivisionError), transaction.atomic(), deferred_indexes(TimelineEvent):
        timeline.record_many([_event(customer, n) for n in range(5)], announce=False)
        1 / 0  # noqa: B018
    assert _definitions(table) == before
    assert not TimelineEvent.objects.filter(customer=customer).exists()


@pytest.mark.django_db
def test_update_rows_sets_each_rows_own_values_and_nothing_else():
    from customer360.bulk import update_rows
    from customer360.models import Customer

    a, b, c = CustomerFactory(city="Wien"), CustomerFactory(city="Linz"), CustomerFactory(city="Graz")
    assert (
        update_rows(Customer, ["city", "postcode"], [(a.pk, "Salzburg", "5020"), (b.pk, "Innsbruck", "6020")])
        == 2
    )
    cities = dict(Customer.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list("pk", "city"))
    assert cities == {a.pk: "Salzburg", b.pk: "Innsbruck", c.pk: "Graz"}
    assert Customer.objects.get(pk=b.pk).postcode == "6020"
    assert update_rows(Customer, ["city"], []) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("taken", [False, True])
def test_rare_conflicts_give_the_same_rows_as_ignore_conflicts(taken):
    """A plain COPY first; when a unique key refuses a row, the careful path skips just that row."""
    from customer360.bulk import insert_rows
    from customer360.models import CustomerIdentity

    customer = CustomerFactory()
    if taken:
        CustomerIdentity.objects.create(customer=customer, kind="email", source="t", value="b@example.com")
    columns = ["customer_id", "kind", "source", "value", "created_at"]
    now = customer.created_at
    rows = [(customer.pk, "email", "t", f"{name}@example.com", now) for name in ("a", "b", "c")]
    with transaction.atomic():
        insert_rows(CustomerIdentity, columns, rows, ignore_conflicts=True, rare_conflicts=True)
    values = CustomerIdentity.objects.filter(source="t").values_list("value", flat=True)
    assert sorted(values) == ["a@example.com", "b@example.com", "c@example.com"]


def _copy_table(cursor, name):
    cursor.execute(f"CREATE TEMP TABLE {name} (label varchar(20), n integer, doc jsonb, at timestamptz, amount numeric(12, 2))")  # fmt: skip


def _read(cursor, name):
    cursor.execute(f"SELECT label, n, doc, at, amount FROM {name} ORDER BY n")  # noqa: S608 - a test's own table
    return [(label, n, json.loads(doc), at, amount) for label, n, doc, at, amount in cursor.fetchall()]


@pytest.mark.django_db
def test_copy_in_writes_what_text_copy_writes_in_binary_and_falls_back_to_text(postgres_only, monkeypatch):
    import datetime
    import zoneinfo
    from decimal import Decimal

    from psycopg.types.json import Jsonb

    from customer360 import bulk

    monkeypatch.setattr(bulk, "BINARY_FROM", 1)  # binary from the first row
    vienna = datetime.datetime(2026, 3, 29, 2, 30, tzinfo=datetime.UTC).astimezone(
        zoneinfo.ZoneInfo("Europe/Vienna")
    )
    rows = [
        ("Grüße", 1, '{"text": "JSON as text"}', vienna, Decimal("12.50")),
        ("wrapped", 2, Jsonb({"list": [1, "zwei"]}), vienna, 7),
    ]
    with connection.cursor() as cursor:
        _copy_table(cursor, "copy_binary")
        bulk.copy_in(cursor, "copy_binary", ["label", "n", "doc", "at", "amount"], rows)
        # Every column has a binary form: this table's rows went in binary.
        assert bulk._BINARY_TYPES[("copy_binary", ("label", "n", "doc", "at", "amount"))] is not None
        assert ("copy_binary", ("label", "n", "doc", "at", "amount")) not in bulk._TEXT_ONLY
        # An int for a text column has no binary form: that COPY runs again as text, once.
        bulk.copy_in(
            cursor,
            "copy_binary",
            ["label", "n", "doc", "at", "amount"],
            [(42, 3, "[]", vienna, Decimal("0"))],
        )
        assert ("copy_binary", ("label", "n", "doc", "at", "amount")) in bulk._TEXT_ONLY
        assert _read(cursor, "copy_binary") == [
            ("Grüße", 1, {"text": "JSON as text"}, vienna, Decimal("12.50")),
            ("wrapped", 2, {"list": [1, "zwei"]}, vienna, Decimal("7.00")),
            ("42", 3, [], vienna, Decimal("0.00")),
        ]


@pytest.mark.django_db
def test_copy_in_passes_the_databases_refusal_on_and_writes_nothing_of_that_copy(postgres_only, monkeypatch):
    from psycopg.errors import StringDataRightTruncation

    from customer360 import bulk

    monkeypatch.setattr(bulk, "BINARY_FROM", 1)
    with connection.cursor() as cursor:
        _copy_table(cursor, "copy_refused")
        with pytest.raises(StringDataRightTruncation), transaction.atomic():
            bulk.copy_in(cursor, "copy_refused", ["label", "n"], [("fits", 1), ("x" * 21, 2)])
        assert _read(cursor, "copy_refused") == []
        # The refusal is the database's verdict on a value, not a missing binary form.
        assert ("copy_refused", ("label", "n")) not in bulk._TEXT_ONLY


@pytest.mark.django_db
def test_copy_in_reads_the_column_types_again_after_a_column_changed_type(postgres_only, monkeypatch):
    from customer360 import bulk

    monkeypatch.setattr(bulk, "BINARY_FROM", 1)
    key = ("copy_stale", ("label", "n"))
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_stale (label varchar(20), n bigint)")
        bulk.copy_in(cursor, "copy_stale", ["label", "n"], [("first", 1)])
        assert bulk._BINARY_TYPES[key] == (1043, 20)  # varchar, bigint
        cursor.execute("ALTER TABLE copy_stale ALTER COLUMN n TYPE integer")  # as a migration would
        bulk.copy_in(cursor, "copy_stale", ["label", "n"], [("second", 2)])
        # The server refused the bigint's eight bytes; the rows went as text, and the types are read
        # again for the next COPY, which goes in binary once more.
        assert key not in bulk._BINARY_TYPES and key not in bulk._TEXT_ONLY
        bulk.copy_in(cursor, "copy_stale", ["label", "n"], [("third", 3)])
        assert bulk._BINARY_TYPES[key] == (1043, 23)  # varchar, integer
        cursor.execute("SELECT label, n FROM copy_stale ORDER BY n")
        assert cursor.fetchall() == [("first", 1), ("second", 2), ("third", 3)]


@pytest.mark.django_db(transaction=True)
def test_drawn_ids_are_the_sequences_own_and_never_given_out_again(postgres_only):
    from customer360.bulk import draw_ids
    from customer360.models import Customer

    with connection.cursor() as cursor:
        drawn = draw_ids(cursor, Customer._meta.db_table, "id", 500)
    assert len(set(drawn)) == 500
    assert drawn == sorted(drawn)
    # A row inserted afterwards by the column's default takes the sequence's next value.
    later = CustomerFactory()
    assert later.pk > max(drawn)
    with connection.cursor() as cursor:
        assert draw_ids(cursor, Customer._meta.db_table, "id", 0) == []
