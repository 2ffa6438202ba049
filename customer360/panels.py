"""The core's own contributions: the main menu entries for customers and search."""

from django.utils.translation import gettext_lazy as _

from customer360.registry import NavItem, navigation

navigation.register(
    NavItem(key="customers", label=_("Customers"), url_name="customer360:customer_list", order=10)
)

import customer360.sources.registrations  # noqa: E402,F401  (registers the data-source menu entries)
