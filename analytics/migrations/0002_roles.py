"""Who may see dashboards and listening data, and who may decide on suggested ticket categories."""

from django.db import migrations

from customer360.migration_helpers import grant_permissions, model_permissions

VIEW_MODELS = ["dailyrollup", "topic", "topictrend", "listenedmessage", "customersentiment", "customerrisk",
               "suggestedcategory", "categorymodelversion"]  # fmt: skip


def grant(apps, schema_editor):
    grant_permissions(
        apps,
        {
            "Manager": model_permissions("analytics", VIEW_MODELS, ["view"])
            + ["analytics.correct_suggestedcategory"],
            "Admin": model_permissions("analytics", VIEW_MODELS) + ["analytics.correct_suggestedcategory"],
            "Service": ["analytics.view_suggestedcategory", "analytics.correct_suggestedcategory"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
