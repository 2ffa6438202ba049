"""The default dunning policy (levels 1-4 with German and English texts) and the roles' permissions."""

from decimal import Decimal

from django.db import migrations

from customer360.migration_helpers import grant_permissions, model_permissions

MODELS = ["invoice", "invoiceline", "payment", "dunningpolicy", "dunninglevel", "dunningnotice"]

LEVELS = [
    {
        "level": 1,
        "name": "Zahlungserinnerung / Friendly reminder",
        "days_after_due": 7,
        "fee": Decimal("0.00"),
        "channel": "email",
        "hands_over": False,
        "text_de": (
            "Sehr geehrte Kundin, sehr geehrter Kunde,\n\n"
            "vielleicht ist es Ihrer Aufmerksamkeit entgangen: Die Rechnung {number} war am {due_date} fällig. "
            "Offen ist noch {open_amount}. Bitte überweisen Sie den Betrag in den nächsten Tagen. "
            "Sollten Sie bereits bezahlt haben, betrachten Sie diese Erinnerung bitte als gegenstandslos.\n\n"
            "Mit freundlichen Grüßen"
        ),
        "text_en": (
            "Dear customer,\n\n"
            "perhaps it slipped your attention: invoice {number} was due on {due_date}. {open_amount} is still "
            "open. Please transfer the amount within the next few days. If you have already paid, please "
            "disregard this reminder.\n\nKind regards"
        ),
    },
    {
        "level": 2,
        "name": "1. Mahnung / Reminder",
        "days_after_due": 21,
        "fee": Decimal("10.00"),
        "channel": "email",
        "hands_over": False,
        "text_de": (
            "Sehr geehrte Kundin, sehr geehrter Kunde,\n\n"
            "trotz unserer Erinnerung ist die Rechnung {number} (fällig am {due_date}) noch nicht beglichen. "
            "Offen sind {open_amount} zuzüglich einer Mahngebühr von {fee}. "
            "Bitte überweisen Sie den Gesamtbetrag innerhalb von 7 Tagen.\n\nMit freundlichen Grüßen"
        ),
        "text_en": (
            "Dear customer,\n\n"
            "despite our reminder, invoice {number} (due on {due_date}) has not been paid. {open_amount} is "
            "open, plus a reminder fee of {fee}. Please transfer the total within 7 days.\n\nKind regards"
        ),
    },
    {
        "level": 3,
        "name": "Letzte Mahnung / Final notice",
        "days_after_due": 35,
        "fee": Decimal("20.00"),
        "channel": "letter",
        "hands_over": False,
        "text_de": (
            "Sehr geehrte Kundin, sehr geehrter Kunde,\n\n"
            "LETZTE MAHNUNG: Die Rechnung {number} (fällig am {due_date}) ist weiterhin offen: {open_amount} "
            "zuzüglich einer Mahngebühr von {fee}. Geht der Betrag nicht binnen 14 Tagen ein, übergeben wir "
            "die Forderung ohne weitere Ankündigung an ein Inkassobüro.\n\nMit freundlichen Grüßen"
        ),
        "text_en": (
            "Dear customer,\n\n"
            "FINAL NOTICE: invoice {number} (due on {due_date}) is still open: {open_amount} plus a fee of "
            "{fee}. If the amount is not received within 14 days, we will hand the claim over to a "
            "collection agency without further notice.\n\nKind regards"
        ),
    },
    {
        "level": 4,
        "name": "Übergabe an Inkasso / Hand-over to collection",
        "days_after_due": 49,
        "fee": Decimal("0.00"),
        "channel": "letter",
        "hands_over": True,
        "text_de": (
            "Sehr geehrte Kundin, sehr geehrter Kunde,\n\n"
            "da die Rechnung {number} (fällig am {due_date}, offen {open_amount}) trotz letzter Mahnung nicht "
            "beglichen wurde, haben wir die Forderung an unser Inkassobüro übergeben, das sich mit Ihnen in "
            "Verbindung setzen wird.\n\nMit freundlichen Grüßen"
        ),
        "text_en": (
            "Dear customer,\n\n"
            "as invoice {number} (due on {due_date}, {open_amount} open) was not paid despite our final "
            "notice, we have handed the claim over to our collection agency, which will contact you.\n\n"
            "Kind regards"
        ),
    },
]


def seed(apps, schema_editor):
    DunningPolicy = apps.get_model("billing", "DunningPolicy")
    DunningLevel = apps.get_model("billing", "DunningLevel")
    policy, _ = DunningPolicy.objects.get_or_create(name="Standard", defaults={"is_active": True})
    for data in LEVELS:
        DunningLevel.objects.update_or_create(policy=policy, level=data["level"], defaults=data)
    every = model_permissions("billing", MODELS)
    grant_permissions(
        apps,
        {
            "Accounting": [
                *model_permissions("billing", ["invoice", "invoiceline", "payment"]),
                "billing.view_dunningnotice",
                "billing.view_dunningpolicy",
                "billing.view_dunninglevel",
                "billing.manage_dunning",
            ],
            "Manager": [f"billing.view_{m}" for m in MODELS],
            "Admin": [*every, "billing.manage_dunning"],
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("billing", "DunningPolicy").objects.filter(name="Standard").delete()
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="billing")
    for group in Group.objects.filter(name__in=["Accounting", "Manager", "Admin"]):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
