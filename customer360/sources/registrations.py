"""Menu entries and other registrations of the data-sources part of the core."""

from django.utils.translation import gettext_lazy as _

from customer360 import roles
from customer360.registry import NavItem, navigation

navigation.register(
    NavItem(
        key="sources",
        label=_("Data sources"),
        url_name="sources:source_list",
        order=90,
        roles=(roles.ADMIN,),
        group="admin",
    )
)

# Celery finds customer360.tasks on its own, not this sub-package's tasks; the admin site too.
import customer360.sources.admin  # noqa: E402,F401
import customer360.sources.tasks  # noqa: E402,F401
