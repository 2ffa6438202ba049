"""The six roles and the core permissions they hold."""

from django.db import migrations

from customer360.migration_helpers import grant_permissions, model_permissions

CORE_MODELS = ["customer", "customeridentity", "timelineevent", "datasource", "job", "staffprofile"]


def create_roles(apps, schema_editor):
    everyone_views = ["customer360.view_customer", "customer360.view_timelineevent"]
    grant_permissions(
        apps,
        {
            "Sales": [*everyone_views, "customer360.add_customer", "customer360.change_customer"],
            "Service": [*everyone_views, "customer360.change_customer"],
            "Marketing": everyone_views,
            "Accounting": [*everyone_views, "customer360.change_customer"],
            "Manager": [f"customer360.view_{m}" for m in CORE_MODELS],
            "Admin": model_permissions("customer360", CORE_MODELS),
        },
    )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["Sales", "Service", "Marketing", "Accounting", "Manager", "Admin"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("customer360", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_roles, remove_roles)]
