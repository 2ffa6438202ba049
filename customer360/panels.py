"""The core's own contributions: the main menu entries for customers and search."""

from django.utils.translation import gettext_lazy as _

from customer360 import roles
from customer360.registry import NavItem, navigation

navigation.register(
    NavItem(key="customers", label=_("Customers"), url_name="customer360:customer_list", order=10)
)
navigation.register(
    NavItem(key="audit", label=_("Audit"), url_name="audit:access_log", order=95, roles=(roles.ADMIN,))
)

import customer360.sources.registrations  # noqa: E402,F401  (registers the data-source menu entries)
