from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        from customer360.timeline import customer_changed

        customer_changed.connect(_on_customer_changed, dispatch_uid="insights.rescore")


def _on_customer_changed(sender, customer_ids=(), **kwargs) -> None:
    """Sent after commit: enqueue one debounced rescoring per changed customer."""
    from insights.services import customers_rescore_request

    customers_rescore_request(customer_ids=customer_ids)
