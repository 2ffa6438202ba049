from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing and dunning")

    def ready(self) -> None:
        # What this app holds about a person, for subject access exports and erasure.
        import billing.privacy  # noqa: F401
