"""Each customer's final revenue day, indexed (issue #18): in a custom period that few customers
have revenue days outside of, the customers whose days all lie in it are counted from this partial
index alone (one entry per customer, with its running total and dimensions), and only the other
customers' days are read from the table, found by their first or last day. Built CONCURRENTLY on
PostgreSQL (2.4M revenue days, 1M final days at a million customers)."""

import datetime

from django.db import migrations, models

from customer360.migration_helpers import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0014_customer_revenue_running_totals"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="customerrevenue",
            index=models.Index(
                fields=["first_day", "day"],
                include=("running", "owner_id", "country", "segment"),
                condition=models.Q(next_day=datetime.date.max),
                name="analytics_revenue_final",
            ),
        ),
        AddIndexConcurrently(
            model_name="customerrevenue",
            index=models.Index(fields=["first_day"], name="analytics_revenue_first_day"),
        ),
        AddIndexConcurrently(
            model_name="customerrevenue",
            index=models.Index(fields=["last_day"], name="analytics_revenue_last_day"),
        ),
    ]
