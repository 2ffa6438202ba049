from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class Customer360Config(AppConfig):
    name = "customer360"
    verbose_name = _("Customer 360")

    def ready(self) -> None:
        # Every app's events.py declares the timeline event kinds it records (customer360.events);
        # its panels.py registers its panels, menu entries and audiences with the core.
        from customer360 import events_core  # noqa: F401 - the core's own kinds

        autodiscover_modules("events")
        # The core's own conditions (customer.*) first; apps add theirs in panels.py.
        from customer360.conditions import register_customer_conditions

        register_customer_conditions()
        autodiscover_modules("panels")
        # Signal receivers of the sign-in: the session clock starts at login, failures are logged.
        from customer360.api.fields import use_bounded_datetimes
        from customer360.audit.history import connect_task_context
        from customer360.signin import middleware, security_log  # noqa: F401

        use_bounded_datetimes()
        # The core's part of subject access and erasure, and the workers that run them.
        # SQLite (tests, small installs) has no ICU: the app's German folding sorts names there.
        from django.db.backends.signals import connection_created

        import customer360.audit.privacy  # noqa: F401
        import customer360.privacy.core  # noqa: F401
        import customer360.privacy.tasks  # noqa: F401

        connect_task_context()
        connection_created.connect(_sqlite_name_collation, dispatch_uid="c360_fold_collation")


def _fold_compare(left: str, right: str) -> int:
    from customer360.text import fold

    a, b = (fold(left), left), (fold(right), right)
    return (a > b) - (a < b)


def _sqlite_name_collation(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_collation("c360_fold", _fold_compare)
