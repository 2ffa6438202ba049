"""Topics named by a manager: the flag that keeps the name across listening runs, and the
permission to rename (managers; admins already hold every analytics permission)."""

from django.db import migrations, models

from customer360.migration_helpers import grant_permissions


def grant(apps, schema_editor):
    grant_permissions(apps, {"Manager": ["analytics.change_topic"]})


class Migration(migrations.Migration):
    dependencies = [("analytics", "0004_customer_revenue")]

    operations = [
        migrations.AddField(
            model_name="topic",
            name="label_is_custom",
            field=models.BooleanField(default=False, verbose_name="named by a manager"),
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
