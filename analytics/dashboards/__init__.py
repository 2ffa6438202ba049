"""The manager dashboards. Each module registers its dashboard and charts when imported."""

from analytics.dashboards import customers, marketing, nba, receivables, sales, service  # noqa: F401
from analytics.dashboards.charts import dashboards  # noqa: F401
