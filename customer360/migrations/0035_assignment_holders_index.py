"""The visibility check of a list row ("is this customer assigned to me or my department?") from an
index alone (issue #18): the active assignments by customer, with the department and the person.
Built CONCURRENTLY on PostgreSQL (writes go on meanwhile; 3.3M assignments at 1M customers)."""

from django.db import migrations, models

from customer360.migration_helpers import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customer360", "0034_customer_email_prefix_index"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="customerassignment",
            index=models.Index(
                condition=models.Q(("revoked_at__isnull", True)),
                fields=["customer"],
                include=("department", "user"),
                name="c360_assignment_holders",
            ),
        ),
    ]
