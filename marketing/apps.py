from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketingConfig(AppConfig):
    name = "marketing"
    verbose_name = _("Marketing")

    def ready(self) -> None:
        # What this app holds about a person, for subject access exports and erasure.
        import marketing.privacy  # noqa: F401
