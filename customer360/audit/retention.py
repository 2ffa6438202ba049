"""Retention: how long each kind of data is kept, and the task that removes what is older.

Configured per kind in ``settings.C360_RETENTION_DAYS`` (0 keeps a kind forever); the nightly beat
task ``customer360.tasks.enforce_retention`` runs every kind and leaves one :class:`RetentionRun`
row per kind, which the admin page shows with the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customer360.audit import history
from customer360.audit.models import APPEND_ONLY, AccessLog, AccessLogCustomer, RetentionRun

logger = logging.getLogger(__name__)
BEAT_ENTRY = "audit-retention"


def _clear_files(field: str, cutoff: datetime) -> int:
    """Delete the stored files of import runs created before ``cutoff``; the run rows stay."""
    from customer360.sources.models import ImportRun

    removed = 0
    runs = ImportRun.objects.filter(created_at__lt=cutoff).exclude(**{field: ""})
    for run in runs.only("pk", field).iterator(chunk_size=500):
        stored = getattr(run, field)
        stored.storage.delete(stored.name)
        ImportRun.objects.filter(pk=run.pk).update(**{field: ""})
        removed += 1
    return removed


def remove_uploads(cutoff: datetime) -> int:
    """Uploaded files and the UTF-8 work copies imports made of workbooks and UTF-16 files; with
    them the preview's checks of those files (the reasons of refused rows quote their cells)."""
    from customer360.models import Job
    from customer360.sources.models import ImportRun

    checked = ImportRun.objects.filter(created_at__lt=cutoff, check_job__isnull=False)
    Job.objects.filter(pk__in=checked.values("check_job")).delete()
    return _clear_files("file", cutoff) + _clear_files("work_file", cutoff)


def remove_error_files(cutoff: datetime) -> int:
    return _clear_files("error_file", cutoff)


def remove_sessions(cutoff: datetime) -> int:
    """Sessions that expired before ``cutoff`` (expired ones no longer sign anybody in)."""
    from django.contrib.sessions.models import Session

    return Session.objects.filter(expire_date__lt=cutoff).delete()[0]


def remove_access_log(cutoff: datetime) -> int:
    """The one way access-log rows are deleted: past their retention, passing the append-only trigger."""
    entries = AccessLog.objects.filter(at__lt=cutoff)
    children = AccessLogCustomer.objects.filter(entry__in=entries.values("pk"))
    with transaction.atomic(), _append_only_passed():
        count = entries.count()
        children._raw_delete(children.db)
        entries._raw_delete(entries.db)
    return count


def _append_only_passed():
    import contextlib

    if connection.vendor != "postgresql":
        return contextlib.nullcontext()
    import pgtrigger

    return pgtrigger.ignore(
        f"customer360.AccessLog:{APPEND_ONLY}", f"customer360.AccessLogCustomer:{APPEND_ONLY}"
    )


def remove_change_history(cutoff: datetime) -> int:
    removed = 0
    for model in history.history_models():
        removed += model.objects.filter(pgh_created_at__lt=cutoff).delete()[0]
    return removed


def remove_closed_customer_events(cutoff: datetime) -> int:
    """Timeline events older than ``cutoff`` of customers who left (lifecycle "churned")."""
    from customer360.models import Customer, TimelineEvent

    closed = Customer.objects.filter(lifecycle=Customer.Lifecycle.CHURNED).values("pk")
    events = TimelineEvent.objects.filter(customer__in=closed, occurred_at__lt=cutoff)
    return events.delete()[0]


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    remove: Callable[[datetime], int]

    @property
    def days(self) -> int:
        return int(settings.C360_RETENTION_DAYS.get(self.key, 0))


KINDS = [
    Kind("uploads", _("Uploaded files"), remove_uploads),
    Kind("error_files", _("Error files of imports"), remove_error_files),
    Kind("sessions", _("Expired sessions"), remove_sessions),
    Kind("access_log", _("Access log"), remove_access_log),
    Kind("change_history", _("Change history"), remove_change_history),
    Kind("closed_customer_events", _("Timeline events of closed customers"), remove_closed_customer_events),
]


def enforce(now: datetime | None = None) -> list[RetentionRun]:
    """Remove what is past its retention, kind by kind; one run row each (kept forever: none)."""
    now = now or timezone.now()
    runs = []
    for kind in KINDS:
        if kind.days <= 0:
            continue
        run = RetentionRun.objects.create(
            kind=kind.key, started_at=now, cutoff=now - timedelta(days=kind.days)
        )
        try:
            run.removed = kind.remove(run.cutoff)
        except Exception as exc:  # one failing kind must not keep the others from running
            logger.exception("retention of %s failed", kind.key)
            run.error = str(exc)[:2000]
        run.finished_at = timezone.now()
        run.save(update_fields=["removed", "error", "finished_at"])
        runs.append(run)
    return runs


def next_run(now: datetime | None = None) -> datetime | None:
    """When beat starts the task next (from its schedule in ``customer360.celery``)."""
    from celery import current_app  # the project's app (customer360.celery), without an import cycle

    entry = current_app.conf.beat_schedule.get(BEAT_ENTRY)
    if not entry:
        return None
    now = now or timezone.now()
    schedule = entry["schedule"]
    remaining = schedule.remaining_estimate(now) if hasattr(schedule, "remaining_estimate") else None
    return now + remaining if remaining is not None else None


def overview(now: datetime | None = None) -> list[dict]:
    """Per kind: its retention, the last run; for the admin page."""
    last = {}
    for run in RetentionRun.objects.order_by("-started_at", "-id")[:200]:
        last.setdefault(run.kind, run)
    return [{"kind": kind, "days": kind.days, "last": last.get(kind.key)} for kind in KINDS]


def recent_runs(limit: int = 30) -> list[RetentionRun]:
    return list(RetentionRun.objects.order_by("-started_at", "-id")[:limit])
