"""Helpers for data migrations that give roles (groups) their permissions.

Each app grants the permissions of its own models in its own data migration, so the core never
has to know the department apps. Permissions are created first (Django creates them only after
``migrate`` otherwise).
"""

from __future__ import annotations

from django.contrib.auth.management import create_permissions


def grant_permissions(apps, spec: dict[str, list[str]]) -> None:
    """``spec`` maps a role to ``"app_label.codename"`` strings; groups are created when missing."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in spec.items():
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
            group.permissions.add(permission)


def model_permissions(
    app_label: str, models: list[str], actions=("view", "add", "change", "delete")
) -> list[str]:
    return [f"{app_label}.{action}_{model}" for model in models for action in actions]
