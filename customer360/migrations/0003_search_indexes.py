"""Trigram search on PostgreSQL: the pg_trgm and unaccent extensions and GIN indexes.

On SQLite this migration does nothing; search falls back to the folded ``search_key``.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS c360_customer_search_trgm "
        "ON customer360_customer USING gin (search_key gin_trgm_ops)"
    )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS c360_customer_email_trgm ON customer360_customer USING gin (email gin_trgm_ops)"
    )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS c360_customer_phone ON customer360_customer (phone text_pattern_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in ("c360_customer_search_trgm", "c360_customer_email_trgm", "c360_customer_phone"):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customer360", "0002_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
