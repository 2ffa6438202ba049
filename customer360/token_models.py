"""Personal API tokens: only the SHA-256 of a secret is stored; scopes per API area."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["API_AREAS", "API_TOKEN_PREFIX", "ApiToken", "ApiTokenQuerySet", "CalendarFeedToken", "api_scope"]


# The API's areas (first path segment under /api/); a personal token carries "<area>:read" and/or
# "<area>:write" per area. /api/sources/ is absent on purpose: it answers only data-source tokens.
API_AREAS: dict[str, str] = {
    "customers": _("Customers and timeline"),
    "crm": _("Sales and service"),
    "marketing": _("Marketing"),
    "billing": _("Billing and dunning"),
    "collab": _("Internal feed"),
    "insights": _("Recommendations"),
    "analytics": _("Dashboards and analytics"),
}
API_TOKEN_PREFIX = "c360u_"


def api_scope(area: str, write: bool) -> str:
    return f"{area}:{'write' if write else 'read'}"


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        """Not revoked, not expired, of an active user."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now(), user__is_active=True)


class ApiToken(models.Model):
    """A personal API token: only the SHA-256 of its secret is stored; it expires, carries scopes
    (read / write per API area) and never more than its user may do."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=80)
    # The first characters of the token, so a user can tell tokens apart; never enough to use one.
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    def allows(self, area: str, write: bool) -> bool:
        return api_scope(area, write) in self.scopes

    def scope_labels(self) -> list[str]:
        """Each area the token reaches, e.g. "Sales and service: read and write", in the reader's language."""
        labels = []
        for area, label in API_AREAS.items():
            if self.allows(area, write=True):
                labels.append(_("%(area)s: read and write") % {"area": label})
            elif self.allows(area, write=False):
                labels.append(_("%(area)s: read") % {"area": label})
        return labels

    def touch(self, min_interval_seconds: int = 60) -> None:
        """Record a use; at most one write per token and minute, whatever the request rate."""
        now = timezone.now()
        stale = Q(last_used_at__isnull=True) | Q(
            last_used_at__lt=now - datetime.timedelta(seconds=min_interval_seconds)
        )
        if ApiToken.objects.filter(stale, pk=self.pk).update(last_used_at=now):
            self.last_used_at = now


class CalendarFeedToken(models.Model):
    """The secret in a user's calendar feed URL (follow-ups and SLA due times as ICS). Calendar apps
    cannot sign in, so the URL itself is the credential: only its SHA-256 is stored, it reads
    nothing but the feed, and revoking it makes the URL answer 404 at once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="calendar_feeds",
        verbose_name=_("user"),
    )
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}…"
