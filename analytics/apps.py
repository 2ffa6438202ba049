from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """Manager dashboards and listening to customers (topics, sentiment, ticket categories)."""

    name = "analytics"
    label = "analytics"
    verbose_name = _("Dashboards and listening")

    def ready(self) -> None:
        import analytics.privacy  # noqa: F401  (subject access and erasure)
