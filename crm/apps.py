from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Sales and service")

    def ready(self) -> None:
        # What this app holds about a person, for subject access exports and erasure.
        import crm.privacy  # noqa: F401
