"""The access log (append-only) and the runs of the retention task.

Imported by ``customer360.models``, so the models belong to the core app ``customer360``.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The name of the PostgreSQL triggers that refuse UPDATE and DELETE; only the retention task
# passes them (``pgtrigger.ignore``).
__all__ = ["AccessLog", "AccessLogCustomer", "RetentionRun"]

APPEND_ONLY = "append_only"


class AppendOnly(Exception):
    """Raised when code tries to change or delete an access-log row."""


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk ``update()`` and ``delete()`` are refused: the log is changed by no code path of the app."""

    def update(self, **kwargs):
        raise AppendOnly("The access log is append-only.")

    def delete(self):
        raise AppendOnly("The access log is append-only.")

    def _update(self, values):
        raise AppendOnly("The access log is append-only.")


class AppendOnlyModel(models.Model):
    """A row that can be written once and never changed or deleted through the app."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly("The access log is append-only.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("The access log is append-only.")


def _protect() -> pgtrigger.Protect:
    return pgtrigger.Protect(name=APPEND_ONLY, operation=pgtrigger.Update | pgtrigger.Delete)


class AccessLog(AppendOnlyModel):
    """Who looked at or exported which customers' data, when, how many rows, from where.

    One row per access: a 360 page view, an export (CSV/XLSX of lists and drill-downs, error files,
    subject exports), an API read by a personal token. One customer is named in ``customer_id``;
    several are rows of :class:`AccessLogCustomer` (an export names up to ``C360_ACCESS_LOG_MAX_IDS``,
    and always counts all).
    """

    class Action(models.TextChoices):
        VIEW_360 = "view_360", _("Opened the 360 page")
        EXPORT = "export", _("Export")
        API_READ = "api_read", _("API read")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    # No database constraint and no cascade: deleting a user must not change the log.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    what = models.CharField(_("what"), max_length=200, blank=True, help_text=_("Page, export or endpoint"))
    # The customer of an access that concerns one (a 360 page, an API read of one customer): no
    # extra row, no extra query on the page. Accesses of several name them in AccessLogCustomer.
    customer_id = models.BigIntegerField(_("customer"), null=True, blank=True, db_index=True)
    customer_count = models.PositiveIntegerField(_("customers"), default=0)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    client_ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=120, blank=True)
    token_id = models.BigIntegerField(_("API token"), null=True, blank=True)

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "at"], name="c360_access_user_at")]
        triggers = [_protect()]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action}"


class AccessLogCustomer(AppendOnlyModel):
    """One customer an access concerned (for the audit per customer and the subject export)."""

    entry = models.ForeignKey(
        AccessLog, on_delete=models.DO_NOTHING, db_constraint=False, related_name="customers"
    )
    customer_id = models.BigIntegerField(db_index=True)

    class Meta:
        verbose_name = _("customer of an access")
        verbose_name_plural = _("customers of accesses")
        triggers = [_protect()]

    def __str__(self) -> str:
        return f"{self.entry_id}: {self.customer_id}"


class RetentionRun(models.Model):
    """One run of the retention task for one kind: what was removed and when."""

    kind = models.CharField(_("kind"), max_length=40)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    cutoff = models.DateTimeField(_("removed before"), null=True, blank=True)
    removed = models.PositiveIntegerField(_("removed"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.started_at:%Y-%m-%d %H:%M}: {self.removed}"
