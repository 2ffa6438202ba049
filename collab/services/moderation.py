"""Moderation: reports by anyone, actions by moderators (recorded with their reason)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collab.models import (
    ModerationAction,
    Post,
    Report,
    is_moderator,
)


def post_report(*, post: Post, by, reason: str) -> Report:
    """Anyone who can read a post can report it, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Please give a reason.")})
    return Report.objects.create(post=post, reported_by=by, reason=reason[:300])


def post_moderate(*, post: Post, moderator, action: str, reason: str) -> ModerationAction:
    """Hide or restore a post with a reason; the action is recorded and open reports are closed."""
    if not is_moderator(moderator):
        raise PermissionDenied(_("Moderating needs the permission collab.moderate_post."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Please give a reason.")})
    if action not in ModerationAction.Action.values:
        raise ValidationError({"action": _("Unknown action.")})
    now = timezone.now()
    with transaction.atomic():
        hide = action == ModerationAction.Action.HIDE
        Post.objects.filter(pk=post.pk).update(is_hidden=hide, hidden_reason=reason[:300] if hide else "")
        record = ModerationAction.objects.create(
            post=post, moderator=moderator, action=action, reason=reason[:300], at=now
        )
        Report.objects.filter(post=post, handled_at__isnull=True).update(handled_at=now)
    post.refresh_from_db()
    return record
