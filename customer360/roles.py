"""Roles are Django groups; this module names them and maps them to departments."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy

SALES = "Sales"
SERVICE = "Service"
MARKETING = "Marketing"
ACCOUNTING = "Accounting"
MANAGER = "Manager"
ADMIN = "Admin"
ALL_ROLES = [SALES, SERVICE, MARKETING, ACCOUNTING, MANAGER, ADMIN]
# The group names are keys (permissions and settings name them); people read these words.
LABELS = {
    SALES: gettext_lazy("Sales"),
    SERVICE: gettext_lazy("Service"),
    MARKETING: gettext_lazy("Marketing"),
    ACCOUNTING: gettext_lazy("Accounting"),
    MANAGER: gettext_lazy("Manager"),
    ADMIN: gettext_lazy("Admin"),
}


def label(name: str) -> str:
    """A role's name in the reader's language; a group an admin added keeps its own name."""
    return str(LABELS.get(name, name))


# The department whose timeline events a role's work produces.
DEPARTMENT_OF_ROLE = {SALES: "sales", SERVICE: "service", MARKETING: "marketing", ACCOUNTING: "accounting"}


def role_names(user) -> set[str]:
    """The user's role names, cached on the user object for the request."""
    cached = getattr(user, "_c360_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user._c360_roles = cached
    return cached


def has_role(user, *names: str) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or role_names(user) & set(names)))


def is_manager_or_admin(user) -> bool:
    return has_role(user, MANAGER, ADMIN)


def departments_of(user) -> list[str]:
    return sorted(DEPARTMENT_OF_ROLE[r] for r in role_names(user) if r in DEPARTMENT_OF_ROLE)


def visibility_rules(user) -> set[str]:
    """The scope rules of the user's roles; "department", the rule's name before assignments, means "assigned"."""
    rules = {settings.C360_VISIBILITY.get(r, "none") for r in role_names(user)}
    return {"assigned" if rule == "department" else rule for rule in rules}
