"""Celery tasks of the NBA engine: thin wrappers that take ids and call a service.

All are idempotent (rescoring replaces open recommendations; a chunk is claimed once), so late
acknowledgement is safe: a task interrupted by a dying worker simply runs again.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

# The engine (pandas, scikit-learn) is imported by the worker's parent, before the pool forks.
from insights import engine, services  # noqa: F401

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 2, "retry_jitter": True, "max_retries": 5}


@shared_task(name="insights.tasks.rescore_customer", acks_late=True, **RETRY)
def rescore_customer(customer_id: int) -> None:
    services.customers_rescore(customer_ids=[customer_id])


@shared_task(name="insights.tasks.rescore_customers", acks_late=True, **RETRY)
def rescore_customers(customer_ids: list[int]) -> None:
    services.customers_rescore(customer_ids=list(customer_ids))


@shared_task(bind=True, name="insights.tasks.rescore_pending", acks_late=True, **RETRY)
def rescore_pending(self) -> None:
    """Drain the pending set (Redis); a redelivery after a dead worker has the same task id and
    so finds the same claim."""
    services.pending_rescore_drain(claim=self.request.id or "eager")


@shared_task(name="insights.tasks.score_chunk", acks_late=True, **RETRY)
def score_chunk(chunk_id: int) -> None:
    services.scoring_chunk_run(chunk_id=chunk_id)


@shared_task(name="insights.tasks.rescore_all", acks_late=True)
def rescore_all() -> None:
    services.scoring_run_start()


@shared_task(name="insights.tasks.expire_recommendations", acks_late=True, **RETRY)
def expire_recommendations() -> None:
    services.recommendations_expire()


@shared_task(name="insights.tasks.train_models", acks_late=True, soft_time_limit=3000, time_limit=3600)
def train_models(action_keys: list[str] | None = None, force: bool = False) -> None:
    services.models_train(action_keys=action_keys, force=force)
