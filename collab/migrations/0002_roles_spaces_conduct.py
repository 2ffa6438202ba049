"""Role permissions of the feed, one space per department, and the first code of conduct."""

from django.db import migrations

from customer360.migration_helpers import grant_permissions, model_permissions

DEPARTMENTS = [
    ("sales", "Sales"),
    ("service", "Service"),
    ("marketing", "Marketing"),
    ("accounting", "Accounting"),
    ("management", "Management"),
    ("it", "IT / Admin"),
]
ALL_MODELS = [
    "space", "spacemembership", "post", "postrevision", "comment", "reaction", "departmentrequest",
    "notification", "digestsubscription", "codeofconduct", "acceptance", "report", "moderationaction",
]
EVERYONE = [
    "collab.view_space", "collab.add_space", "collab.view_post", "collab.add_post", "collab.change_post",
    "collab.view_comment", "collab.add_comment", "collab.view_departmentrequest",
    "collab.add_departmentrequest", "collab.change_departmentrequest", "collab.add_report",
]
CODE_TEXT = """Be kind and assume good intent. Criticise ideas, not people.
Write for colleagues of every department: say what you need and by when.
Customer data stays in the tool: reference customers with #, never paste personal data you do not need.
No insults, no harassment, no discrimination. Moderators may hide posts that break these rules and will say why.
"""


def forwards(apps, schema_editor):
    models = ALL_MODELS
    grant_permissions(
        apps,
        {
            "Sales": EVERYONE,
            "Service": EVERYONE,
            "Marketing": EVERYONE,
            "Accounting": EVERYONE,
            "Manager": [*EVERYONE, *model_permissions("collab", models, ("view",)), "collab.moderate_post"],
            "Admin": [*model_permissions("collab", models), "collab.moderate_post"],
        },
    )
    Space = apps.get_model("collab", "Space")
    for key, name in DEPARTMENTS:
        Space.objects.get_or_create(
            kind="department", department=key, defaults={"name": name, "slug": f"dept-{key}", "visibility": "public"}
        )
    CodeOfConduct = apps.get_model("collab", "CodeOfConduct")
    CodeOfConduct.objects.get_or_create(version=1, defaults={"text": CODE_TEXT})


class Migration(migrations.Migration):
    dependencies = [("collab", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
