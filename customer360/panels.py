"""The core's own contributions: the menus of the top navigation (one per area, in this order)
and the main menu entry for customers. Apps put their entries into these menus by ``group``."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customer360 import roles
from customer360.registry import NavGroup, NavItem, nav_groups, navigation

for _order, (_key, _label) in enumerate(
    [
        ("customers", _("Customers")),
        ("sales", _("Sales & Service")),
        ("marketing", _("Marketing")),
        ("billing", _("Billing")),
        ("feed", _("Feed")),
        ("insights", pgettext_lazy("navigation", "Insights")),
        ("admin", _("Administration")),
    ]
):
    nav_groups.register(NavGroup(key=_key, label=_label, order=_order * 10))

navigation.register(
    NavItem(
        key="customers",
        label=_("Customers"),
        url_name="customer360:customer_list",
        order=10,
        group="customers",
    )
)
navigation.register(
    NavItem(
        key="audit",
        label=_("Audit"),
        url_name="audit:access_log",
        order=95,
        roles=(roles.ADMIN,),
        group="admin",
    )
)

import customer360.sources.registrations  # noqa: E402,F401  (registers the data-source menu entries)
