"""The search's e-mail condition is a prefix ("anna.berger" finds anna.berger@example.at): a b-tree
in pattern order answers it from the first matching entry on. The trigram index it replaces matched
a domain's letters in every address ("example" read all 1,000,000 customers to find none, 0.8 s).
PostgreSQL only, built CONCURRENTLY (issue #18)."""

from django.db import migrations

PREFIX = "c360_customer_email_prefix"
TRIGRAM = "c360_customer_email_trgm"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A failed CONCURRENTLY build leaves an invalid index behind: drop it and build again.
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {PREFIX}")
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY {PREFIX} ON customer360_customer (email varchar_pattern_ops)"
    )
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {TRIGRAM}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {TRIGRAM} ON customer360_customer USING gin (email gin_trgm_ops)"
    )
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {PREFIX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("customer360", "0033_customer_list_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
