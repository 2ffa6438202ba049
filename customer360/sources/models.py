"""Models of data sources (imported by customer360.models so Django registers them).

``DataSource`` itself lives in ``customer360.models``; here are the runs of an import, the replay
guard of webhooks, the duplicate review queue and the record of merges (so they can be undone).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

__all__ = ["CustomerMerge", "DuplicateCandidate", "ImportRun", "WebhookDelivery"]


def _upload_path(instance: ImportRun, filename: str) -> str:
    return f"sources/uploads/{timezone.now():%Y/%m}/{filename}"


class ImportRun(models.Model):
    """One upload of a file into a data source: status, progress, counts and the error file."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Waiting for mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    COUNTS = ("created", "updated", "unchanged", "failed", "duplicate")

    source = models.ForeignKey("customer360.DataSource", on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.UPLOADED)
    file = models.FileField(_("file"), upload_to=_upload_path, max_length=300)
    file_name = models.CharField(_("file name"), max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    # The mapping and file options the run used (a copy: the source's mapping may change later).
    mapping = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(_("rows"), default=0)
    done = models.PositiveIntegerField(_("rows done"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    duplicate = models.PositiveIntegerField(_("duplicate"), default=0)
    error = models.TextField(_("error"), blank=True)
    error_file = models.FileField(upload_to="sources/errors/", blank=True, max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("sources:run_detail", args=[self.pk])

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(100, int(100 * self.done / self.total)) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}

    def add_progress(self, *, done: int, counts: dict[str, int]) -> None:
        """Add a committed batch to the visible progress (one UPDATE, safe for concurrent readers)."""
        changes = {name: F(name) + counts.get(name, 0) for name in self.COUNTS if counts.get(name)}
        ImportRun.objects.filter(pk=self.pk).update(done=F("done") + done, **changes)


class WebhookDelivery(models.Model):
    """A webhook call that was accepted; the unique signature makes a replay fail."""

    source = models.ForeignKey("customer360.DataSource", on_delete=models.CASCADE, related_name="+")
    signature = models.CharField(max_length=128)
    timestamp = models.BigIntegerField()
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "signature"], name="c360_webhook_once"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}@{self.timestamp}"


class DuplicateCandidate(models.Model):
    """Two customers the fuzzy matcher thinks are the same person, waiting for an admin.

    The customer columns are plain ids without a database constraint: a merge deletes one of the
    two and its undo recreates it with the same id, and the queue must survive both.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        MERGED = "merged", _("Merged")
        DISMISSED = "dismissed", _("Not a duplicate")

    customer_a = models.ForeignKey(
        "customer360.Customer", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    customer_b = models.ForeignKey(
        "customer360.Customer", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    score = models.FloatField(_("score"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("duplicate candidate")
        verbose_name_plural = _("duplicate candidates")
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer_a", "customer_b"], name="c360_duplicate_pair"),
            models.CheckConstraint(
                condition=models.Q(customer_a__lt=F("customer_b")), name="c360_pair_order"
            ),
        ]
        indexes = [models.Index(fields=["status", "-score"], name="c360_duplicate_queue")]

    def __str__(self) -> str:
        return f"{self.customer_a_id} ~ {self.customer_b_id} ({self.score:.0f})"

    @property
    def reason_display(self) -> str:
        """The stored reason ("name 92%, postcode 1010, same city") in the reader's language."""
        return ", ".join(_reason_part(part.strip()) for part in self.reason.split(",") if part.strip())


class CustomerMerge(models.Model):
    """A merge of one customer into another: who, when, and exactly what moved, so it can be undone.

    ``moved`` maps "app_label.model.field" to the primary keys that pointed at the merged customer;
    ``kept_before`` holds the kept customer's field values before the merge; ``merged_snapshot``
    the merged customer's row (it is deleted and recreated with the same id on undo).
    """

    kept = models.ForeignKey(
        "customer360.Customer", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    merged_customer_id = models.BigIntegerField()
    merged_label = models.CharField(max_length=300, blank=True)
    chosen = models.JSONField(default=dict, blank=True)
    kept_before = models.JSONField(default=dict, blank=True)
    merged_snapshot = models.JSONField(default=dict, blank=True)
    moved = models.JSONField(default=dict, blank=True)
    removed = models.JSONField(default=list, blank=True)
    candidate = models.ForeignKey(DuplicateCandidate, on_delete=models.SET_NULL, null=True, blank=True)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    performed_at = models.DateTimeField(default=timezone.now)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        ordering = ["-performed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.merged_customer_id} -> {self.kept_id}"

    @property
    def moved_count(self) -> int:
        return sum(len(pks) for pks in self.moved.values())


def _reason_part(part: str) -> str:
    fixed = {"same city": _("same city"), "same birth date": _("same birth date")}
    if part in fixed:
        return str(fixed[part])
    if part.startswith("name ") and part.endswith("%"):
        return gettext("name %(score)s%%") % {"score": part[5:-1]}
    if part.startswith("postcode "):
        return gettext("postcode %(code)s") % {"code": part[9:]}
    return part
