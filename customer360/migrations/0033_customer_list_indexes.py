"""Indexes for the customer list at a million customers (issue #18), PostgreSQL only, built
CONCURRENTLY (writes go on meanwhile):

- ``c360_customer_name_sort``: the list's default order (last and first name in the ICU collation the
  list sorts by, then id), so the first page walks the index instead of sorting every visible
  customer;
- ``c360_score_customer_kind_value``: a filter on a score (churn risk at least 80 %) probes each
  listed customer's score from the index alone, without reading the table.

SQLite (embedded mode) sorts through the app's own collation and needs neither."""

from django.db import migrations

INDEXES = {
    "c360_customer_name_sort": 'customer360_customer (last_name COLLATE "de-AT-x-icu", '
    'first_name COLLATE "de-AT-x-icu", id)',
    "c360_score_customer_kind_value": "customer360_score (customer_id, kind) INCLUDE (value)",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        # A failed CONCURRENTLY build leaves an invalid index behind: drop it and build again.
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY {name} ON {definition}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("customer360", "0032_timeline_partitioned_by_time")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
