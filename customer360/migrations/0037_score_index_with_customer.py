"""The scores by (kind, value) with the customer id in the index (issue #18): a list filter on a
score ("churn risk at least 80 %") reads the ids of the customers it admits from the index alone,
and the top customers of a kind too. It replaces ``c360_score_top`` (the same keys, without the
customer). Built CONCURRENTLY on PostgreSQL (1.8M scores at a million customers)."""

from django.db import migrations, models

from customer360.migration_helpers import AddIndexConcurrently, RemoveIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customer360", "0036_search_key_without_apostrophes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="score",
            index=models.Index(fields=["kind", "-value"], include=("customer",), name="c360_score_kind_value"),
        ),
        RemoveIndexConcurrently(model_name="score", name="c360_score_top"),
    ]
