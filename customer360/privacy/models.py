"""Models of data subject requests (imported by customer360.models so Django registers them)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["ErasureRequest", "SubjectExport", "SuppressionEntry"]


class SubjectExport(models.Model):
    """A subject access / portability export of one customer: a worker collects what every app
    holds into one ZIP; the row shows its progress and, when done, the file to download."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    customer = models.ForeignKey("customer360.Customer", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    #: rows per kind, e.g. {"crm.tickets": 3}
    counts = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="privacy/exports/", blank=True, max_length=300)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("subject access export")
        verbose_name_plural = _("subject access exports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export #{self.pk} of customer {self.customer_id} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(100, int(100 * self.done / self.total)) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def row_count(self) -> int:
        return sum(self.counts.values())


class ErasureRequest(models.Model):
    """A request to erase a person (GDPR Art. 17): requested with a reason, approved by a SECOND
    person with the right, then executed by a worker. Kept after execution as the record of it;
    its id is what the suppression list and refused imports name."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        RUNNING = "running", _("Executing")
        EXECUTED = "executed", _("Executed")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")

    # PROTECT: the request is the record that the person was erased; the customer row stays as a
    # pseudonym for the invoices the law requires keeping.
    customer = models.ForeignKey(
        "customer360.Customer", on_delete=models.PROTECT, related_name="erasure_requests"
    )
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    rejected_reason = models.CharField(_("reason for rejecting"), max_length=300, blank=True)
    executed_at = models.DateTimeField(_("executed"), null=True, blank=True)
    #: what was removed or anonymised, per app and kind
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | ~models.Q(approved_by=models.F("requested_by")),
                name="c360_erasure_two_people",
            ),
        ]

    def __str__(self) -> str:
        return f"erasure request {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in {self.Status.REQUESTED, self.Status.APPROVED, self.Status.RUNNING}


class SuppressionEntry(models.Model):
    """An identifier of an erased person as a keyed hash (HMAC-SHA256), never in clear text:
    imports, the bulk API and webhooks refuse rows that match, so the person is not created again."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")
        EXTERNAL_ID = "external_id", _("External id")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    digest = models.CharField(max_length=64)
    request = models.ForeignKey(ErasureRequest, on_delete=models.PROTECT, related_name="suppressions")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("suppression entry")
        verbose_name_plural = _("suppression list")
        constraints = [models.UniqueConstraint(fields=["digest"], name="c360_suppression_digest")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.digest[:12]}… (request {self.request_id})"
