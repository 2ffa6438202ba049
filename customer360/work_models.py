"""Background work the core keeps track of: a worker's long job with its progress, a worker's
heartbeat, and customer changes waiting for the broker (re-exported by customer360.models)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customer360.progress import Progress

__all__ = ["Job", "PendingChange", "WorkerHeartbeat"]


class Job(Progress, models.Model):
    """Long work done by a worker, visible to the user: status, progress, error."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=60)
    label = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker proved it is alive (read by /health/)."""

    name = models.CharField(max_length=200, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%H:%M:%S}"


class PendingChange(models.Model):
    """A customer whose ``customer_changed`` announcement could not be delivered (the broker was
    unreachable): kept here, in the same database as the change, and announced again by the beat
    task ``customer360.tasks.announce_pending_changes`` once the broker is back (customer360/outbox.py).
    A plain id, not a foreign key: the announcement of an erased customer is simply dropped."""

    customer_id = models.BigIntegerField(unique=True)
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"customer {self.customer_id} @ {self.changed_at:%H:%M:%S}"
