"""Comments and answers: the first answer to a department request is recorded, one answer
can be accepted."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from collab import departments, markup
from collab.models import (
    Comment,
    DepartmentRequest,
    Notification,
    Post,
)
from collab.services.conduct import _require_conduct
from collab.services.notifications import _notify, _notify_mentions
from collab.services.posts import resolve_references


def comment_create(*, post: Post, author, body: str, created_at: datetime | None = None) -> Comment:
    """Answer a post. The first answer by someone other than the asker is the request's first answer."""
    _require_conduct(author)
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something first.")})
    canonical, _customers = resolve_references(author=author, body=body)
    now = created_at or timezone.now()
    with transaction.atomic():
        comment = Comment.objects.create(
            post=post,
            author=author,
            author_department=departments.department_of(author),
            author_role=departments.role_of(author),
            body=canonical,
            body_html=markup.render(canonical),
            created_at=now,
        )
        url = comment.get_absolute_url()
        name = author.get_full_name() or author.get_username()
        request = DepartmentRequest.objects.filter(post=post).first()
        if request is not None and author.pk != request.requested_by_id:
            _record_first_answer(request, author, now)
            _notify(
                recipient_ids=[request.requested_by_id],
                kind=Notification.Kind.ANSWER,
                source_key=f"comment:{comment.pk}",
                message=gettext_noop("%(name)s answered your request: %(text)s"),
                params={"name": name, "text": markup.plain(body, 120)},
                url=url,
                post=post,
                actor=author,
            )
        elif author.pk != post.author_id:
            _notify(
                recipient_ids=[post.author_id],
                kind=Notification.Kind.COMMENT,
                source_key=f"comment:{comment.pk}",
                message=gettext_noop("%(name)s commented: %(text)s"),
                params={"name": name, "text": markup.plain(body, 120)},
                url=url,
                post=post,
                actor=author,
            )
        _notify_mentions(post=post, text=canonical, source_key=f"comment:{comment.pk}", actor=author, url=url)
    return comment


def _record_first_answer(request: DepartmentRequest, author, moment: datetime) -> None:
    seconds = max(int((moment - request.created_at).total_seconds()), 0)
    # The conditional update claims "first": two answers at once cannot both be first.
    DepartmentRequest.objects.filter(pk=request.pk, first_answered_at__isnull=True).update(
        first_answered_at=moment,
        first_answered_by=author,
        first_answer_seconds=seconds,
        status=DepartmentRequest.Status.ANSWERED,
    )


def comment_accept(*, comment: Comment, by) -> Comment:
    """The asker marks an answer as accepted; its author becomes a go-to person for the topic."""
    if by.pk != comment.post.author_id:
        raise PermissionDenied(_("Only the person who asked can accept an answer."))
    if comment.author_id == by.pk:
        raise ValidationError({"comment": _("You cannot accept your own answer.")})
    Comment.objects.filter(pk=comment.pk).update(is_accepted=True, accepted_at=timezone.now(), accepted_by=by)
    comment.refresh_from_db()
    return comment
