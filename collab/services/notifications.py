"""Who hears about what: mentions, space readers, department members, notifications and
the e-mail digest. Notifications are unique per (recipient, kind, source), so a retry never
notifies twice."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from collab import departments, markup
from collab.models import (
    DigestSubscription,
    Notification,
    Post,
    Space,
    SpaceMembership,
)
from customer360.models import StaffProfile

User = get_user_model()


def _mention_targets(text: str, *, exclude_user_id: int | None) -> tuple[list, list[str]]:
    """The users mentioned by name and the departments mentioned (whose members are notified)."""
    names = markup.mentions_in(text)
    depts = sorted({departments.MENTION_ALIASES[n] for n in names if n in departments.MENTION_ALIASES})
    usernames = [n for n in names if n not in departments.MENTION_ALIASES]
    people = list(User.objects.filter(username__in=usernames, is_active=True)) if usernames else []
    if exclude_user_id:
        people = [p for p in people if p.pk != exclude_user_id]
    return people, depts


def space_reader_ids(space: Space, candidate_ids: Iterable[int]) -> set[int]:
    """Those of ``candidate_ids`` who may read ``space`` (see ``SpaceQuerySet.readable_by``)."""
    candidates = set(candidate_ids)
    if space.visibility == Space.Visibility.PUBLIC or not candidates:
        return candidates
    readers = set(
        SpaceMembership.objects.filter(space=space, user_id__in=candidates).values_list("user_id", flat=True)
    )
    if space.kind == Space.Kind.DEPARTMENT:
        readers |= set(
            department_members([space.department]).filter(pk__in=candidates).values_list("pk", flat=True)
        )
    return readers


def department_members(dept_keys: Iterable[str]):
    """Active users holding the role of any of the departments."""
    role_names = [departments.ROLE_OF_DEPARTMENT[d] for d in dept_keys if d in departments.ROLE_OF_DEPARTMENT]
    return User.objects.filter(groups__name__in=role_names, is_active=True).distinct()


def _notify(
    *,
    recipient_ids: Iterable[int],
    kind: str,
    source_key: str,
    message: str,
    params: dict,
    url: str,
    post=None,
    actor=None,
) -> int:
    """Create one notification per recipient; existing ones (a retry) are left alone. ``message``
    is a translation key (``gettext_noop``) with ``params``: each reader sees it in their language."""
    with translation.override("en"):
        text = Notification.render(message, params)
    rows = [
        Notification(
            recipient_id=pk,
            kind=kind,
            source_key=source_key,
            post=post,
            actor=actor,
            message=message,
            params=params,
            text=text[:300],
            url=url[:300],
        )
        for pk in sorted(set(recipient_ids))
        if pk and (actor is None or pk != actor.pk)
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _notify_mentions(
    *, post: Post, text: str, source_key: str, actor, url: str, already: Iterable[int] = ()
) -> None:
    """Notify the people and departments ``text`` mentions; ``already`` are those the same event
    notified otherwise (a request to their department), so nobody hears of one event twice."""
    people, depts = _mention_targets(text, exclude_user_id=actor.pk)
    recipients = {p.pk for p in people}
    if depts:
        recipients |= set(department_members(depts).values_list("pk", flat=True))
    recipients -= set(already)
    # Only people who can read the space hear about it: a mention is not a way into a private space.
    readable = space_reader_ids(post.space, recipients)
    name = actor.get_full_name() or actor.get_username()
    _notify(
        recipient_ids=readable,
        kind=Notification.Kind.MENTION,
        source_key=source_key,
        message=gettext_noop("%(name)s mentioned you: %(text)s"),
        params={"name": name, "text": markup.plain(text, 120)},
        url=url,
        post=post,
        actor=actor,
    )


def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications (all, or the given ones) as read; return how many changed."""
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())


def digest_send(*, user_id: int, now: datetime | None = None) -> int:
    """E-mail one user their unread, not yet e-mailed notifications; return how many were sent.

    The notifications are claimed first (a conditional update), and the mail goes out after the
    claim has committed, never inside a transaction.
    """
    now = now or timezone.now()
    subscription = (
        DigestSubscription.objects.filter(user_id=user_id, enabled=True).select_related("user").first()
    )
    if subscription is None or not subscription.user.email:
        return 0
    pending = list(
        Notification.objects.filter(recipient_id=user_id, read_at__isnull=True, emailed_at__isnull=True)
        .order_by("created_at")
        .values_list("pk", flat=True)[:100]
    )
    if not pending:
        return 0
    claimed = Notification.objects.filter(pk__in=pending, emailed_at__isnull=True).update(emailed_at=now)
    if not claimed:
        return 0
    items = list(Notification.objects.filter(pk__in=pending, emailed_at=now).order_by("created_at"))
    DigestSubscription.objects.filter(pk=subscription.pk).update(last_sent_at=now)
    # In the recipient's language (their profile's), whoever wrote the notifications and whatever
    # language the worker runs in.
    language = StaffProfile.objects.filter(user_id=user_id).values_list("language", flat=True).first()
    with translation.override(language or settings.LANGUAGE_CODE):
        lines = [f"- {n.display_text}" for n in items]
        subject = _("Customer 360: %(count)d unread notifications") % {"count": len(items)}
    try:
        send_mail(subject, "\n".join(lines), None, [subscription.user.email], fail_silently=False)
    except Exception:
        # Give the claim back so that the retried task sends them.
        Notification.objects.filter(pk__in=pending, emailed_at=now).update(emailed_at=None)
        raise
    return len(items)
