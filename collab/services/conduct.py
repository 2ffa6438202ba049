"""The code of conduct: published by moderators, accepted by everyone before posting."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from collab.models import (
    Acceptance,
    CodeOfConduct,
)


def conduct_publish(*, text: str, by) -> CodeOfConduct:
    """A new version of the rules; everybody accepts it again before their next post."""
    last = CodeOfConduct.objects.order_by("-version").values_list("version", flat=True).first() or 0
    return CodeOfConduct.objects.create(version=last + 1, text=text, published_by=by)


def conduct_pending(user) -> CodeOfConduct | None:
    """The current code if ``user`` has not accepted it yet, else None."""
    current = CodeOfConduct.objects.current()
    if current is None or Acceptance.objects.filter(user=user, code=current).exists():
        return None
    return current


def conduct_accept(*, user, code: CodeOfConduct) -> Acceptance:
    """Record that ``user`` accepted ``code`` (who and when; accepting twice keeps the first)."""
    acceptance, _created = Acceptance.objects.get_or_create(user=user, code=code)
    return acceptance


def _require_conduct(user) -> None:
    if conduct_pending(user) is not None:
        raise PermissionDenied(_("Please accept the current code of conduct before you post."))
