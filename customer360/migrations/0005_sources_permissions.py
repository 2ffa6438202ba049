"""Role permissions for the data-source models: Admin everything, Manager view."""

from django.db import migrations

from customer360.migration_helpers import grant_permissions, model_permissions

SOURCE_MODELS = ["importrun", "duplicatecandidate", "customermerge", "webhookdelivery"]


def grant(apps, schema_editor):
    grant_permissions(
        apps,
        {
            "Admin": model_permissions("customer360", SOURCE_MODELS),
            "Manager": model_permissions("customer360", SOURCE_MODELS, actions=("view",)),
        },
    )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    perms = Permission.objects.filter(
        content_type__app_label="customer360", content_type__model__in=SOURCE_MODELS
    )
    for group in Group.objects.filter(name__in=["Admin", "Manager"]):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [("customer360", "0004_datasource_created_by_datasource_mapping_and_more")]
    operations = [migrations.RunPython(grant, revoke)]
