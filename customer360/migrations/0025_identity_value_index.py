"""The duplicate finder looks identities up by value across all sources: an index built CONCURRENTLY,
so a big installation keeps taking writes while it is built (tests/test_migrations_at_scale.py)."""

from django.db import migrations, models

from customer360.migration_helpers import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customer360", "0024_identity_across_sources"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="customeridentity",
            index=models.Index(fields=["value", "kind"], name="c360_identity_value"),
        ),
    ]
