"""Departments as the feed sees them: the four customer-facing ones plus management and IT.

A user's department comes from their role group (customer360.roles); managers and admins get a
department of their own so that "do managers take part?" can be answered.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from customer360 import roles

SALES = "sales"
SERVICE = "service"
MARKETING = "marketing"
ACCOUNTING = "accounting"
MANAGEMENT = "management"
IT = "it"

CHOICES = [
    (SALES, _("Sales")),
    (SERVICE, _("Service")),
    (MARKETING, _("Marketing")),
    (ACCOUNTING, _("Accounting")),
    (MANAGEMENT, _("Management")),
    (IT, _("IT / Admin")),
]
LABELS = dict(CHOICES)
KEYS = [key for key, _label in CHOICES]

ROLE_OF_DEPARTMENT = {
    SALES: roles.SALES,
    SERVICE: roles.SERVICE,
    MARKETING: roles.MARKETING,
    ACCOUNTING: roles.ACCOUNTING,
    MANAGEMENT: roles.MANAGER,
    IT: roles.ADMIN,
}
DEPARTMENT_OF_ROLE = {role: dept for dept, role in ROLE_OF_DEPARTMENT.items()}

# "@admin" is the natural way to address IT; "@managers" the natural plural.
MENTION_ALIASES = {
    **{key: key for key in KEYS},
    "admin": IT,
    "management": MANAGEMENT,
    "managers": MANAGEMENT,
}


def departments_of(user) -> list[str]:
    """The user's departments in a stable order (a user may hold several roles)."""
    names = roles.role_names(user)
    return [key for key in KEYS if ROLE_OF_DEPARTMENT[key] in names]


def department_of(user) -> str:
    """The user's main department ("" for users without a role)."""
    found = departments_of(user)
    return found[0] if found else ""


def role_of(user) -> str:
    """The user's main role name, in the order of the departments."""
    dept = department_of(user)
    return ROLE_OF_DEPARTMENT.get(dept, "")
