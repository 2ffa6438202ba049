"""Celery tasks of the NBA engine: thin wrappers that take ids and call a service.

All are idempotent (rescoring replaces open recommendations; a chunk is claimed once), so late
acknowledgement is safe: a task interrupted by a dying worker simply runs again.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
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


@shared_task(name="insights.tasks.reclaim_stalled_scoring", soft_time_limit=60, time_limit=90)
def reclaim_stalled_scoring() -> list[int]:
    """Beat, every minute: a batch rescoring whose task the broker lost goes on (its open chunks)."""
    return services.scoring_reclaim_stalled()


@shared_task(name="insights.tasks.vacuum_scores", acks_late=True, **RETRY)
def vacuum_scores() -> None:
    services.scores_vacuum()


@shared_task(name="insights.tasks.rescore_all", acks_late=True)
def rescore_all() -> None:
    services.scoring_run_start()


@shared_task(name="insights.tasks.expire_recommendations", acks_late=True, **RETRY)
def expire_recommendations() -> None:
    services.recommendations_expire()


LONG = {
    "soft_time_limit": settings.C360_LONG_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.C360_LONG_TASK_TIME_LIMIT,
}


@shared_task(name="insights.tasks.train_models", acks_late=True)
def train_models(action_keys: list[str] | None = None, force: bool = False) -> None:
    """One training task per action instead of one long task for all: each has the long time limit
    (below the broker's visibility timeout), and a redelivery repeats one action, not all."""
    for key in services.models_to_train(action_keys=action_keys):
        train_action.delay(key, force=force)
    if action_keys is None:
        for key in services.outcomes_to_train():
            train_outcome.delay(key, force=force)


@shared_task(name="insights.tasks.train_action", acks_late=True, **LONG)
def train_action(action_key: str, force: bool = False) -> None:
    services.models_train(action_keys=[action_key], force=force)


@shared_task(name="insights.tasks.train_outcome", acks_late=True, **LONG)
def train_outcome(outcome_key: str, force: bool = False) -> None:
    """Churn or payment risk, learned from history (insights.outcomes)."""
    services.outcomes_train(keys=[outcome_key], force=force)


@shared_task(name="insights.tasks.evaluate_outcome", acks_late=True, **LONG)
def evaluate_outcome(definition_id: int, job_id: int) -> None:
    """The hold-out evaluation of an outcome an admin defined (insights.services.outcome_evaluate)."""
    services.outcome_evaluate(definition_id=definition_id, job_id=job_id)
