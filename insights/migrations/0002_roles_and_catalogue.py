"""Role permissions for the NBA models and the seeded action catalogue."""

from django.db import migrations

from customer360.migration_helpers import grant_permissions, model_permissions
from insights.catalogue import seed_actions

MODELS = ["action", "actionrule", "contactpolicy", "modelversion", "recommendation"]
VIEW_WORK = ["insights.view_action", "insights.view_recommendation", "insights.change_recommendation"]


def forwards(apps, schema_editor):
    grant_permissions(
        apps,
        {
            "Sales": VIEW_WORK,
            "Service": VIEW_WORK,
            "Marketing": VIEW_WORK,
            "Accounting": VIEW_WORK,
            "Manager": model_permissions("insights", MODELS, ["view"]),
            "Admin": model_permissions("insights", MODELS),
        },
    )
    seed_actions(apps.get_model("insights", "Action"), apps.get_model("insights", "ActionRule"))
    apps.get_model("insights", "ContactPolicy").objects.get_or_create(pk=1)


def backwards(apps, schema_editor):
    apps.get_model("insights", "Action").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("insights", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
