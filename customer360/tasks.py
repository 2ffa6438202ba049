"""Core Celery tasks: the worker heartbeat and recording an event from elsewhere."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone
from django.utils.translation import gettext_noop

from customer360 import timeline
from customer360.models import Customer, WorkerHeartbeat


def write_heartbeat(name: str) -> None:
    WorkerHeartbeat.objects.update_or_create(name=name[:200], defaults={"seen_at": timezone.now()})


@shared_task(name="customer360.tasks.worker_heartbeat")
def worker_heartbeat() -> None:
    write_heartbeat(worker_heartbeat.request.hostname or "worker")


@shared_task(name="customer360.tasks.record_event")
def record_event(customer_id: int, department: str, kind: str, title: str, idempotency_key: str) -> None:
    """Record an event for a customer given by id (used by integrations and the worker test)."""
    if not Customer.objects.filter(pk=customer_id).exists():
        return
    timeline.record(
        customer=customer_id,
        department=department,
        kind=kind,
        title=title,
        idempotency_key=idempotency_key,
        actor_label=gettext_noop("worker"),  # a translation key
    )


@shared_task(name="customer360.tasks.announce_pending_changes")
def announce_pending_changes() -> int:
    """Beat: announce again the customer changes kept while the broker was unreachable, so each
    customer changed during a Redis outage is rescored once Redis is back."""
    from customer360 import outbox
    from customer360.models import TimelineEvent

    return outbox.drain(timeline.customer_changed, TimelineEvent)


@shared_task(name="customer360.tasks.enforce_retention")
def enforce_retention() -> int:
    """Remove what is past its retention (settings.C360_RETENTION_DAYS); returns the rows removed."""
    from customer360.audit import retention

    return sum(run.removed for run in retention.enforce())


@shared_task(name="customer360.tasks.ensure_timeline_partitions")
def ensure_timeline_partitions() -> list[str]:
    """Beat, daily: the timeline's yearly partitions exist a year ahead (customer360/partitions.py);
    returns the partitions created (none on most days, and always none on SQLite)."""
    from customer360 import partitions

    return partitions.ensure_partitions()
