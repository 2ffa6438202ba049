"""Customer numbers past C-999999 (a seventh digit sort before "C-999999" as text): the next number
is read from the longest, then greatest number, through this index; built CONCURRENTLY, so a big
installation keeps taking writes while it is built (tests/test_migrations_at_scale.py)."""

import django.db.models.functions.text
from django.db import migrations, models

from customer360.migration_helpers import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customer360", "0027_history_update_changed_rows"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(
                models.OrderBy(django.db.models.functions.text.Length("customer_number"), descending=True),
                models.OrderBy(models.F("customer_number"), descending=True),
                name="c360_customer_number_len",
            ),
        ),
    ]
