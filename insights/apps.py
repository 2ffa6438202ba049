from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        from django.core.signals import request_started
        from django.db.models.signals import post_delete, post_save

        import insights.privacy  # noqa: F401  (subject access and erasure)
        from customer360.timeline import customer_changed
        from insights.models import Action, ActionRule, ContactPolicy, ModelVersion, OutcomeDefinition

        customer_changed.connect(_on_customer_changed, dispatch_uid="insights.rescore")
        request_started.connect(_sync_score_conditions, dispatch_uid="insights.score_conditions")
        for model in (Action, OutcomeDefinition):
            for signal in (post_save, post_delete):
                signal.connect(
                    _on_scored_changed, sender=model, dispatch_uid=f"insights.conditions.{model.__name__}"
                )
        for model in (Action, ActionRule, ContactPolicy, ModelVersion):
            for signal in (post_save, post_delete):
                signal.connect(
                    _on_catalogue_changed, sender=model, dispatch_uid=f"insights.catalogue.{model.__name__}"
                )


def _on_customer_changed(sender, customer_ids=(), **kwargs) -> None:
    """Sent after commit: ask for a debounced rescoring of the changed customers (one Redis round
    trip and at most one enqueue per announcement, whatever the number of customers)."""
    from insights.services import customers_rescore_request

    customers_rescore_request(customer_ids=customer_ids)


def _on_catalogue_changed(sender, **kwargs) -> None:
    """Workers cache the catalogue per process; an edit makes them reload it."""
    from insights.engine import catalogue_changed

    catalogue_changed()


def _sync_score_conditions(sender, **kwargs) -> None:
    """The propensity and outcome conditions of this process follow the actions and outcomes."""
    from insights.score_conditions import sync

    sync()


def _on_scored_changed(sender, **kwargs) -> None:
    from insights.score_conditions import changed

    changed()
