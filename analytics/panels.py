"""Menu entries of dashboards and listening, and the listening facts others can filter on."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from analytics.models import CustomerRisk, CustomerSentiment
from customer360 import roles
from customer360.registry import Condition, NavItem, compare, conditions, navigation

navigation.register(
    NavItem(key="dashboards", label=_("Dashboards"), url_name="analytics:index", order=80,
            roles=(roles.MANAGER, roles.ADMIN), group="insights")
)  # fmt: skip
navigation.register(
    NavItem(key="nba_performance", label=_("NBA performance"), url_name="analytics:nba_performance", order=80,
            roles=(roles.MANAGER, roles.ADMIN), group="insights")
)  # fmt: skip
navigation.register(
    NavItem(key="feed-analytics", label=_("Feed analytics"), url_name="analytics:feed", order=82,
            roles=(roles.MANAGER, roles.ADMIN), group="insights")
)  # fmt: skip
navigation.register(
    NavItem(key="listening", label=_("Listening"), url_name="analytics:listening", order=81,
            roles=(roles.MANAGER, roles.ADMIN), group="insights")
)  # fmt: skip

conditions.register(
    Condition(
        key="listening.sentiment",
        label=_("Sentiment of the customer's messages (-1 to 1)"),
        department="service",
        value_type="decimal",
        build=lambda op, value: Q(
            pk__in=CustomerSentiment.objects.filter(compare("score", op, float(value))).values("customer_id")
        ),
        operators=("lt", "lte", "gt", "gte"),
        order=90,
    )
)
conditions.register(
    Condition(
        key="analytics.churn_risk",
        label=_("Churn risk (0-100)"),
        department="system",
        value_type="int",
        build=lambda op, value: Q(
            pk__in=CustomerRisk.objects.filter(compare("score", op, int(value))).values("customer_id")
        ),
        operators=("gte", "gt", "lt", "lte"),
        order=91,
    )
)
