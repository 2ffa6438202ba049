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
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from customer360.progress import Progress

__all__ = ["CustomerMerge", "DuplicateCandidate", "ImportChunk", "ImportRun", "WebhookDelivery"]


def _upload_path(instance: ImportRun, filename: str) -> str:
    return f"sources/uploads/{timezone.now():%Y/%m}/{filename}"


class ImportRun(Progress, models.Model):
    """One upload of a file into a data source: status, progress, counts and the error file.

    A running import is split into :class:`ImportChunk` ranges of the file. Each chunk's rows, its
    counts and the run's checkpoint (``next_row``/``next_offset``) and counters commit in one
    transaction, so a killed worker or a redelivered task continues at the checkpoint: no row twice,
    none lost, counters exact. The worker holds the run's row lock while it writes a chunk; a second
    task for the same run skips it (``skip_locked``) instead of doing the work again.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Waiting for mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", pgettext_lazy("import run", "Cancelled")

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
    # Chunked work: the file the chunks point into (a UTF-8 copy for UTF-16 and .xlsx uploads),
    # the header, the checkpoint and the heartbeat the stalled-run check reads.
    work_file = models.FileField(upload_to="sources/work/", blank=True, max_length=300)
    header = models.JSONField(default=list, blank=True)
    prepared_at = models.DateTimeField(null=True, blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    next_row = models.PositiveIntegerField(default=0)
    next_offset = models.PositiveBigIntegerField(default=0)
    # Row number -> how many identical rows came before it (only rows that repeat an earlier one):
    # two identical lines stay two events, wherever the chunk boundaries fall.
    repeats = models.JSONField(default=dict, blank=True)
    # Row number -> the earlier row with the same record id (the target's id field, e.g. the event
    # id): a duplicate, also when the two lines fall into different chunks.
    # (db_default too: code of the previous release may still insert runs while this one migrates)
    repeated_ids = models.JSONField(default=dict, blank=True, db_default={})
    # False when the file itself stopped the run (unreadable, changed since the upload): resuming
    # would read the same file and stop the same way, so the page asks for a corrected upload.
    resumable = models.BooleanField(default=True, db_default=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    reclaims = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    # Undo (``sources.undo``): the worker's job while it runs, and when and by whom it was done.
    undo_job = models.ForeignKey(
        "customer360.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    # The worker's check of the whole file for the mapping last previewed (``file_checks.run_check_start``);
    # its Job row carries the mapping's fingerprint, so a result is never shown for another mapping.
    check_job = models.ForeignKey(
        "customer360.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("sources:run_detail", args=[self.pk])

    @property
    def rows_per_second(self) -> int:
        """Rows written per second of chunk work (time between chunks, e.g. a dead worker, excluded)."""
        return int(self.done / self.seconds) if self.seconds else 0

    @property
    def eta_seconds(self) -> int | None:
        rate = self.rows_per_second
        if self.is_finished or not rate or not self.total:
            return None
        return max(0, int((self.total - self.done) / rate))

    @property
    def can_resume(self) -> bool:
        unfinished = not self.prepared_at or self.done < self.total
        return self.status in {self.Status.FAILED, self.Status.CANCELLED} and unfinished and self.resumable

    @property
    def first_repeated_id(self) -> tuple[int, int] | None:
        """``(row, earlier row)`` of the first line whose id (its key) an earlier line had."""
        if not self.repeated_ids:
            return None
        row = min(self.repeated_ids, key=int)
        return int(row), int(self.repeated_ids[row])

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}

    def add_progress(self, *, done: int, counts: dict[str, int]) -> None:
        """Add a committed batch to the visible progress and its row counts (:meth:`Progress.advance`)."""
        self.advance(done, **{name: counts.get(name, 0) for name in self.COUNTS})


class ImportChunk(models.Model):
    """A range of rows of a run's file (byte offsets into the work file), written in one transaction."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DONE = "done", _("Done")

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_row = models.PositiveIntegerField()
    rows = models.PositiveIntegerField()
    start_offset = models.PositiveBigIntegerField()
    end_offset = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    duplicate = models.PositiveIntegerField(default=0)
    # Refused rows: [row number, cells, reason], for the run's error file.
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0)

    class Meta:
        verbose_name = _("import chunk")
        verbose_name_plural = _("import chunks")
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="c360_import_chunk_once")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.index}"

    @property
    def last_row(self) -> int:
        return self.first_row + self.rows - 1

    @property
    def rows_per_second(self) -> int:
        return int(self.rows / self.seconds) if self.seconds else 0


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

    class Basis(models.TextChoices):
        NAME = "name", _("similar name and place")
        EXTERNAL_ID = "external_id", _("same customer id in two sources")
        EMAIL = "email", _("same e-mail")
        PHONE = "phone", _("same phone")
        TAX_ID = "tax_id", _("same tax / VAT id")

    score = models.FloatField(_("score"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # What made the pair a candidate; each basis has its own threshold, learned from decisions.
    basis = models.CharField(
        _("basis"), max_length=20, choices=Basis.choices, default=Basis.NAME, db_default=Basis.NAME
    )
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
        indexes = [
            models.Index(fields=["status", "-score"], name="c360_duplicate_queue"),
            models.Index(fields=["basis", "status"], name="c360_duplicate_basis"),
        ]

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
    fixed = {
        "same city": _("same city"),
        "same birth date": _("same birth date"),
        "same tax id": _("same tax / VAT id"),
        "same e-mail": _("same e-mail"),
        "same phone": _("same phone"),
        "same customer id in two sources": _("same customer id in two sources"),
    }
    if part in fixed:
        return str(fixed[part])
    if part.startswith("name ") and part.endswith("%"):
        return gettext("name %(score)s%%") % {"score": part[5:-1]}
    if part.startswith("postcode "):
        return gettext("postcode %(code)s") % {"code": part[9:]}
    return part
