"""Celery tasks of dashboards and listening. Thin: they call a service and are safe to rerun.

Beat entries (for ``customer360/celery.py``'s ``beat_schedule``)::

    "analytics-rollups": {"task": "analytics.refresh_rollups", "schedule": crontab(minute="*/15")},
    "analytics-rollups-nightly": {"task": "analytics.refresh_rollups", "schedule": crontab(hour=2, minute=30),
                                  "kwargs": {"full": True}},
    "analytics-listening": {"task": "analytics.refresh_listening", "schedule": crontab(hour=3, minute=0)},
    "analytics-suggest-categories": {"task": "analytics.suggest_ticket_categories", "schedule": 120.0},
"""

from __future__ import annotations

import logging

from celery import chain, shared_task
from django.conf import settings
from django.db import DatabaseError

from analytics import services

logger = logging.getLogger(__name__)
RETRY = {"autoretry_for": (DatabaseError,), "retry_backoff": True, "retry_jitter": True, "max_retries": 3}


@shared_task(name="analytics.refresh_rollups", **RETRY)
def refresh_rollups(full: bool = False) -> dict:
    """Incremental roll-up refresh (only days with new events); ``full`` rebuilds everything and the
    churn-risk scores (nightly)."""
    written = services.rollups_refresh(full=full)
    if full:
        written["customer_risk"] = services.customer_risk_refresh()
    logger.info("roll-ups refreshed: %s", written)
    return written


LONG = {
    "soft_time_limit": settings.C360_LONG_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.C360_LONG_TASK_TIME_LIMIT,
}


@shared_task(name="analytics.refresh_listening")
def refresh_listening() -> None:
    """Nightly: new messages, topics and rising flags, sentiment per customer, then the category
    model. Two tasks in a chain, each within the long time limit, instead of one that needed an hour."""
    chain(listening_step.si(), ticket_categories_step.si()).apply_async()


@shared_task(name="analytics.listening_step", **LONG)
def listening_step() -> dict:
    return services.listening_refresh().result


@shared_task(name="analytics.ticket_categories_step", **LONG)
def ticket_categories_step() -> dict:
    services.suggestions_sync_corrections()
    version = services.ticket_categories_train()
    services.tickets_suggest_categories()
    return {"category_model": version.version if version else None}


@shared_task(name="analytics.suggest_ticket_categories", **RETRY)
def suggest_ticket_categories() -> int:
    """Suggest categories for new tickets (the newest without a suggestion, in one batch)."""
    return services.tickets_suggest_categories()
