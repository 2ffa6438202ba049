"""What each role may do with marketing's records."""

from django.db import migrations

from customer360.migration_helpers import grant_permissions, model_permissions

MODELS = ["consent", "consentchange", "segment", "campaign", "touch"]


def grant(apps, schema_editor):
    grant_permissions(
        apps,
        {
            "Marketing": [
                *model_permissions("marketing", ["consent", "segment", "campaign"]),
                *model_permissions("marketing", ["touch"], ("view", "add", "change")),
                "marketing.view_consentchange",
            ],
            # Reps must know whom they may not call with offers.
            "Sales": ["marketing.view_consent", "marketing.view_consentchange"],
            "Manager": model_permissions("marketing", MODELS, ("view",)),
            "Admin": model_permissions("marketing", MODELS),
        },
    )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.all():
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="marketing"))


class Migration(migrations.Migration):
    dependencies = [("marketing", "0001_initial"), ("customer360", "0002_roles")]
    operations = [migrations.RunPython(grant, revoke)]
