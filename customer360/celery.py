"""The Celery application: JSON only, time limits, late acknowledgement for idempotent tasks."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customer360.settings.base")

#: Long maintenance that follows an import or a full rescoring runs on that work's queue (settings
#: ``C360_IMPORT_QUEUE``, ``C360_RESCORING_QUEUE``), never in front of the default queue's rescoring
#: of a changed customer. At 1M customers the duplicate scan after an import took minutes and the
#: scores' vacuum after a full rescoring about a minute; with both on the default queue's two
#: processes, the rescoring an event asked for waited behind them (docs/scaling.md, fifteenth run).
_SETTING_QUEUES = {
    "customer360.sources.tasks.find_duplicates": "C360_IMPORT_QUEUE",
    "insights.tasks.vacuum_scores": "C360_RESCORING_QUEUE",
}


def _queue_by_setting(name, args, kwargs, options, task=None, **kw):
    """A router (Celery's ``task_routes``): the queue named by a setting, read when the task is sent."""
    setting = _SETTING_QUEUES.get(name)
    if setting is None:
        return None
    from django.conf import settings

    return {"queue": getattr(settings, setting, "default") or "default"}


app = Celery("customer360")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    # Our tasks are idempotent, so a task interrupted by a dying worker is simply run again: it is
    # acknowledged only after it ran, and a worker killed mid-task (SIGKILL, OOM) puts it back.
    # Redis redelivers unacknowledged tasks after the visibility timeout, which settings keep above
    # every time limit (C360_VISIBILITY_TIMEOUT > C360_LONG_TASK_TIME_LIMIT), so a task that still
    # runs is never delivered twice. One task prefetched at a time: a long chunk does not hold
    # others hostage behind it.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # A publish while the broker is down gives up after about a second; callers keep the work in
    # the database (customer360/outbox.py) and a beat task sends it once the broker is back.
    task_publish_retry_policy={
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    },
    broker_connection_retry_on_startup=True,
    task_default_queue="default",
    task_routes=[
        _queue_by_setting,
        {
            "insights.tasks.train_*": {"queue": "ml"},
            "insights.tasks.evaluate_outcome": {"queue": "ml"},
            # The roll-ups' refresh takes 31 s at a million customers, every 15 minutes: too long for
            # the default queue, where the rescoring a new event asks for waits (docs/scaling.md,
            # sixteenth run).
            "analytics.refresh_rollups": {"queue": "ml"},
            "analytics.refresh_listening": {"queue": "ml"},
            "analytics.listening_step": {"queue": "ml"},
            "analytics.ticket_categories_step": {"queue": "ml"},
        },
    ],
    timezone=os.environ.get("TIME_ZONE", "Europe/Vienna"),
    beat_schedule={
        "worker-heartbeat": {"task": "customer360.tasks.worker_heartbeat", "schedule": 30.0},
        "announce-pending-changes": {
            "task": "customer360.tasks.announce_pending_changes",
            "schedule": float(os.environ.get("C360_PENDING_CHANGES_INTERVAL", "30")),
        },
        "sources-reclaim-stalled-imports": {
            "task": "customer360.sources.tasks.reclaim_stalled_imports",
            "schedule": 60.0,
        },
        "nba-reclaim-stalled-scoring": {"task": "insights.tasks.reclaim_stalled_scoring", "schedule": 60.0},
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
        # Retention (README "Audit"): uploads, error files, sessions, access log, history, old events.
        "audit-retention": {
            "task": "customer360.tasks.enforce_retention",
            "schedule": crontab(hour=4, minute=10),
        },
        # The timeline's next yearly partition, created ahead (customer360/partitions.py).
        "timeline-partitions": {
            "task": "customer360.tasks.ensure_timeline_partitions",
            "schedule": crontab(hour=1, minute=40),
        },
        "collab-send-digests": {"task": "collab.tasks.send_digests", "schedule": crontab(minute=30, hour=7)},
    },
)
app.autodiscover_tasks()


@worker_ready.connect
def _announce_ready(sender=None, **kwargs):
    # The first heartbeat comes from the worker itself, so /health/ is green before beat ticks.
    from customer360.tasks import write_heartbeat

    write_heartbeat(getattr(sender, "hostname", "worker"))


def task(name: str):
    """The registered task called ``name``.

    Services enqueue work by task name through this, so that a ``tasks`` module may import its
    ``services`` (tasks are thin wrappers around services) without an import cycle back.
    """
    if name not in app.tasks:
        app.loader.import_default_modules()  # runs the (lazy) autodiscovery of every app's tasks.py
    return app.tasks[name]
