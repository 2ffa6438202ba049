"""The Celery application: JSON only, time limits, late acknowledgement for idempotent tasks."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customer360.settings.base")

app = Celery("customer360")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    # Our tasks are idempotent, so a task interrupted by a dying worker is simply run again.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_default_queue="default",
    task_routes={"insights.tasks.train_*": {"queue": "ml"}, "analytics.refresh_listening": {"queue": "ml"}},
    timezone=os.environ.get("TIME_ZONE", "Europe/Vienna"),
    beat_schedule={
        "worker-heartbeat": {"task": "customer360.tasks.worker_heartbeat", "schedule": 30.0},
        "sources-reclaim-stalled-imports": {
            "task": "customer360.sources.tasks.reclaim_stalled_imports",
            "schedule": 60.0,
        },
        "crm-check-sla-breaches": {"task": "crm.tasks.check_sla_breaches", "schedule": 300.0},
        "collab-remind-overdue": {
            "task": "collab.tasks.remind_overdue_requests",
            "schedule": crontab(minute=0, hour="8-17"),
        },
        "billing-dunning-run": {"task": "billing.tasks.run_dunning", "schedule": crontab(hour=6, minute=0)},
        "nba-train-nightly": {"task": "insights.tasks.train_models", "schedule": crontab(hour=2, minute=0)},
        "nba-rescore-nightly": {"task": "insights.tasks.rescore_all", "schedule": crontab(hour=3, minute=0)},
        "nba-expire": {"task": "insights.tasks.expire_recommendations", "schedule": crontab(minute=15)},
        "analytics-rollups": {"task": "analytics.refresh_rollups", "schedule": crontab(minute="*/15")},
        "analytics-rollups-nightly": {
            "task": "analytics.refresh_rollups",
            "schedule": crontab(hour=2, minute=30),
            "kwargs": {"full": True},
        },
        "analytics-listening": {"task": "analytics.refresh_listening", "schedule": crontab(hour=3, minute=0)},
        "analytics-suggest-categories": {"task": "analytics.suggest_ticket_categories", "schedule": 120.0},
        "collab-send-digests": {"task": "collab.tasks.send_digests", "schedule": crontab(minute=30, hour=7)},
    },
)
app.autodiscover_tasks()


@worker_ready.connect
def _announce_ready(sender=None, **kwargs):
    # The first heartbeat comes from the worker itself, so /health/ is green before beat ticks.
    from customer360.tasks import write_heartbeat

    write_heartbeat(getattr(sender, "hostname", "worker"))
