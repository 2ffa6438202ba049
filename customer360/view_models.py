"""Saved views of the customer list: a named filter + sort + columns, private or shared."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["SavedView"]


class SavedViewQuerySet(models.QuerySet):
    def usable_by(self, user):
        """The user's own views and the views others shared."""
        return self.filter(Q(owner=user) | Q(shared=True))


class SavedView(models.Model):
    """A customer list query (filters, sort, columns as a query string) under a name. A shared view
    is offered to everyone; each reader still sees only the customers they may see."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_views",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=80)
    shared = models.BooleanField(_("shared with everyone"), default=False)
    query = models.CharField(_("query"), max_length=2000, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="c360_savedview_owner_name")]

    def __str__(self) -> str:
        return self.name
