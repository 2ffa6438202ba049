"""Default pipeline, SLA policies and business hours, and the role permissions of crm's models."""

from datetime import time

from django.db import migrations

from customer360.migration_helpers import grant_permissions, model_permissions

SALES_MODELS = ["contract", "deal", "activity"]
SERVICE_MODELS = ["ticket", "ticketmessage", "satisfaction"]
REFERENCE_MODELS = ["product", "pipeline", "stage", "slapolicy", "businesshours"]
ALL_MODELS = SALES_MODELS + SERVICE_MODELS + REFERENCE_MODELS

STAGES = [("Qualification", 10, False, False), ("Proposal", 40, False, False), ("Negotiation", 70, False, False),
          ("Won", 100, True, False), ("Lost", 0, False, True)]
SLA = [("urgent", 60, 480), ("high", 240, 1440), ("normal", 480, 2880), ("low", 1440, 7200)]


def seed(apps, schema_editor):
    Pipeline = apps.get_model("crm", "Pipeline")
    Stage = apps.get_model("crm", "Stage")
    pipeline, _ = Pipeline.objects.get_or_create(name="Sales", defaults={"is_default": True})
    for order, (name, probability, won, lost) in enumerate(STAGES, start=1):
        Stage.objects.get_or_create(
            pipeline=pipeline, name=name,
            defaults={"order": order, "probability": probability, "is_won": won, "is_lost": lost},
        )
    SlaPolicy = apps.get_model("crm", "SlaPolicy")
    for priority, first, resolution in SLA:
        SlaPolicy.objects.get_or_create(
            priority=priority, defaults={"first_response_minutes": first, "resolution_minutes": resolution}
        )
    BusinessHours = apps.get_model("crm", "BusinessHours")
    if not BusinessHours.objects.exists():
        BusinessHours.objects.create(
            name="Standard", start=time(8, 0), end=time(17, 0), weekdays="01234", timezone="Europe/Vienna"
        )
    view_all = model_permissions("crm", ALL_MODELS, ("view",))
    grant_permissions(
        apps,
        {
            # Sales and service each read the other's records (the 360 page shows both) but edit their own.
            "Sales": [*view_all, *model_permissions("crm", SALES_MODELS, ("add", "change"))],
            "Service": [*view_all, *model_permissions("crm", SERVICE_MODELS, ("add", "change"))],
            "Manager": view_all,
            "Admin": model_permissions("crm", ALL_MODELS),
        },
    )


def unseed(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    perms = Permission.objects.filter(content_type__app_label="crm")
    for group in Group.objects.all():
        group.permissions.remove(*perms)
    apps.get_model("crm", "Pipeline").objects.filter(name="Sales").delete()
    apps.get_model("crm", "SlaPolicy").objects.all().delete()
    apps.get_model("crm", "BusinessHours").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial"), ("customer360", "0002_roles")]
    operations = [migrations.RunPython(seed, unseed)]
