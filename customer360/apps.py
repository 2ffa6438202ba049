from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class Customer360Config(AppConfig):
    name = "customer360"
    verbose_name = _("Customer 360")

    def ready(self) -> None:
        # Every app's panels.py registers its panels, menu entries and audiences with the core.
        autodiscover_modules("panels")
        # Signal receivers of the sign-in: the session clock starts at login, failures are logged.
        from customer360.api.fields import use_bounded_datetimes
        from customer360.audit.history import connect_task_context
        from customer360.signin import middleware, security_log  # noqa: F401

        use_bounded_datetimes()
        connect_task_context()
