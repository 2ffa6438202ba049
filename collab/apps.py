from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollabConfig(AppConfig):
    name = "collab"
    verbose_name = _("Internal feed")

    def ready(self) -> None:
        # What this app holds about a person, for subject access exports and erasure.
        import collab.privacy  # noqa: F401
