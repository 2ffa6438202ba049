"""The manager dashboards. Each module registers its dashboard and charts when imported."""

from insights.analytics.dashboards import customers, marketing, nba, receivables, sales, service  # noqa: F401
from insights.analytics.dashboards.charts import dashboards  # noqa: F401
