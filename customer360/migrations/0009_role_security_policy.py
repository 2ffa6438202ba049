"""The second-factor policy per role; the Admin role requires an authenticator app by default.

Admins may also see and remove authenticator apps (a lost phone) and lockouts (to unlock)."""

import django.db.models.deletion
from django.db import migrations, models

from customer360.migration_helpers import grant_permissions, model_permissions


def require_for_admin(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    RoleSecurityPolicy = apps.get_model("customer360", "RoleSecurityPolicy")
    admin, _ = Group.objects.get_or_create(name="Admin")
    RoleSecurityPolicy.objects.update_or_create(group=admin, defaults={"require_second_factor": True})
    grant_permissions(
        apps,
        {
            "Admin": [
                *model_permissions("customer360", ["rolesecuritypolicy"], actions=("view", "change", "add")),
                "otp_totp.view_totpdevice",
                "otp_totp.delete_totpdevice",
                "axes.view_accessattempt",
                "axes.delete_accessattempt",
                "axes.view_accessfailurelog",
            ],
        },
    )


def forget(apps, schema_editor):
    apps.get_model("customer360", "RoleSecurityPolicy").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("customer360", "0008_api_tokens"),
        ("otp_totp", "0003_add_timestamps"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [
        migrations.CreateModel(
            name="RoleSecurityPolicy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "require_second_factor",
                    models.BooleanField(
                        default=False,
                        help_text="Members must confirm each sign-in with a code from an authenticator app (TOTP).",
                        verbose_name="require a second factor",
                    ),
                ),
                (
                    "group",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="security_policy",
                        to="auth.group",
                        verbose_name="role",
                    ),
                ),
            ],
            options={
                "verbose_name": "role security policy",
                "verbose_name_plural": "role security policies",
            },
        ),
        migrations.RunPython(require_for_admin, forget),
    ]
