"""Workflows of the feed that cross models, notify people or write the customer timeline.

Everything that writes the timeline goes through ``customer360.timeline.record`` (idempotent per
post and customer); notifications are unique per (recipient, kind, source), so a retried call
never notifies twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from collab import departments, markup
from collab.events import INTERNAL_POST, INTERNAL_REQUEST
from collab.models import (
    Acceptance,
    CodeOfConduct,
    Comment,
    DepartmentRequest,
    DigestSubscription,
    ModerationAction,
    Notification,
    Post,
    PostRevision,
    Reaction,
    Report,
    Space,
    SpaceMembership,
    is_moderator,
)
from customer360 import search, timeline
from customer360.events import EventKind
from customer360.models import Customer

logger = logging.getLogger(__name__)
User = get_user_model()

MAX_REFERENCES = 10


# --- Spaces ------------------------------------------------------------------------------------
def space_for_department(*, department: str) -> Space:
    """The department's own space, created on first use (one per department)."""
    if department not in departments.LABELS:
        raise ValueError(f"unknown department {department!r}")
    with translation.override("en"):
        name = str(departments.LABELS[department])
    space, _created = Space.objects.get_or_create(
        kind=Space.Kind.DEPARTMENT,
        department=department,
        defaults={"name": name, "slug": f"dept-{department}", "visibility": Space.Visibility.PUBLIC},
    )
    return space


def spaces_ensure_departments() -> dict[str, Space]:
    """Every department's space (idempotent; the data migration and the demo call it)."""
    return {key: space_for_department(department=key) for key in departments.KEYS}


def space_create(
    *,
    name: str,
    created_by,
    kind: str = Space.Kind.TOPIC,
    visibility: str = Space.Visibility.PUBLIC,
    description: str = "",
    members: Iterable = (),
) -> Space:
    """A cross-department or topic space; the creator is always a member."""
    if kind == Space.Kind.DEPARTMENT:
        raise ValidationError({"kind": _("Department spaces are created automatically.")})
    base = slugify(name)[:60] or "space"
    slug, n = base, 1
    while Space.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    with transaction.atomic():
        space = Space.objects.create(
            name=name,
            slug=slug,
            kind=kind,
            visibility=visibility,
            description=description,
            created_by=created_by,
        )
        people = {created_by.pk, *(getattr(m, "pk", m) for m in members)}
        SpaceMembership.objects.bulk_create(
            [SpaceMembership(space=space, user_id=pk) for pk in people], ignore_conflicts=True
        )
    return space


# --- Code of conduct ---------------------------------------------------------------------------
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


# --- Posts ---------------------------------------------------------------------------------------
@dataclass
class RequestData:
    """What makes a post a request to a department."""

    to_department: str
    kind: str = DepartmentRequest.Kind.QUESTION
    priority: str = DepartmentRequest.Priority.NORMAL
    due_date: date | None = None


def resolve_references(*, author, body: str) -> tuple[str, list[Customer]]:
    """Turn ``#C-000123`` and ``#Gruber`` into canonical references to customers the author may see.

    A name that matches nobody stays plain text (it may just be a hashtag); a name that matches
    several customers or an unknown number is an error naming the token, so the author can pick.
    """
    tokens = markup.references_in(body)[:MAX_REFERENCES]
    if not tokens:
        return body, []
    visible = Customer.objects.visible_to(author)
    mapping: dict[str, str] = {}
    found: dict[int, Customer] = {}
    errors: list[str] = []
    for token in tokens:
        if token.upper().startswith("C-") and token[2:].isdigit():
            customer = visible.filter(customer_number=token.upper()).first()
            if customer is None:
                errors.append(
                    _("#%(token)s: no customer with this number that you may see.") % {"token": token}
                )
                continue
            hits = [customer]
        else:
            hits = search.typeahead(visible, token, limit=4)
            if not hits:
                continue
            if len(hits) > 1:
                options = ", ".join(f"#{c.customer_number} ({c.display_name}, {c.city})" for c in hits)
                errors.append(
                    _("#%(token)s matches several customers, please pick one: %(options)s")
                    % {"token": token, "options": options}
                )
                continue
        mapping[token] = hits[0].customer_number
        found[hits[0].pk] = hits[0]
    if errors:
        raise ValidationError({"body": errors})
    return markup.replace_references(body, mapping), list(found.values())


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
    *, recipient_ids: Iterable[int], kind: str, source_key: str, text: str, url: str, post=None, actor=None
) -> int:
    """Create one notification per recipient; existing ones (a retry) are left alone."""
    rows = [
        Notification(
            recipient_id=pk,
            kind=kind,
            source_key=source_key,
            post=post,
            actor=actor,
            text=text[:300],
            url=url[:300],
        )
        for pk in sorted(set(recipient_ids))
        if pk and (actor is None or pk != actor.pk)
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _notify_mentions(*, post: Post, text: str, source_key: str, actor, url: str) -> None:
    people, depts = _mention_targets(text, exclude_user_id=actor.pk)
    recipients = {p.pk for p in people}
    if depts:
        recipients |= set(department_members(depts).values_list("pk", flat=True))
    # Only people who can read the space hear about it: a mention is not a way into a private space.
    readable = space_reader_ids(post.space, recipients)
    name = actor.get_full_name() or actor.get_username()
    _notify(
        recipient_ids=readable,
        kind=Notification.Kind.MENTION,
        source_key=source_key,
        text=_("%(name)s mentioned you: %(text)s") % {"name": name, "text": markup.plain(text, 120)},
        url=url,
        post=post,
        actor=actor,
    )


def customer_event_payload(post: Post, customer: Customer | None, request=None) -> tuple[EventKind, dict]:
    """The declaration and payload of ``post``'s event on ``customer``'s timeline (service and demo
    alike): a request names the receiving department, a discussion its space."""
    who = post.author.get_full_name() or post.author.get_username()
    text = markup.plain(strip_references(post.body, customer), 120)
    references = {"post_id": post.pk, "space_id": post.space_id, "request_id": getattr(request, "pk", None)}
    if request is not None:
        return INTERNAL_REQUEST, INTERNAL_REQUEST.payload(
            dept=request.to_department, who=who, text=text, **references
        )
    return INTERNAL_POST, INTERNAL_POST.payload(space=post.space.name, who=who, text=text, **references)


def customer_event_summary(post: Post, customer: Customer | None) -> str:
    """The post's text for one customer's timeline (stored as written, not rendered)."""
    return markup.plain(strip_references(post.body, customer), 1000)


def strip_references(text: str, customer: Customer | None = None) -> str:
    """The text for one customer's timeline: the customer by name, other customers neutralised
    (a reader of this timeline may not see the other customers of the same post)."""
    own = customer.customer_number if customer is not None else None

    def swap(match) -> str:
        if match.group(1) == own:
            return customer.display_name
        return "(another customer)"

    return markup.CANONICAL_RE.sub(swap, text)


def _record_customer_events(post: Post, customers: Iterable[Customer]) -> None:
    """ONE timeline event per (post, customer), visible only to readers of the space."""
    request = getattr(post, "request", None)
    for customer in customers:
        declaration, payload = customer_event_payload(post, customer, request)
        declaration.record(
            customer=customer,
            key=timeline.idempotency_key("collab.post", post.pk, "customer", customer.pk),
            payload=payload,
            summary=customer_event_summary(post, customer),
            occurred_at=post.created_at,
            actor=post.author,
            source=post,
            audience=post.space.audience,
        )


def post_create(
    *,
    author,
    space: Space,
    body: str,
    topic: str = "",
    request: RequestData | None = None,
    created_at: datetime | None = None,
) -> Post:
    """Publish a post (optionally as a request to a department, which then lives in that
    department's space), notify mentioned people and departments, and put it on the timeline of
    every referenced customer."""
    _require_conduct(author)
    if request is not None:
        space = space_for_department(department=request.to_department)
    if not Space.objects.readable_by(author).filter(pk=space.pk).exists():
        raise PermissionDenied(_("You are not a member of this space."))
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something first.")})
    canonical, customers = resolve_references(author=author, body=body)
    people, depts = _mention_targets(canonical, exclude_user_id=None)
    with transaction.atomic():
        post = Post.objects.create(
            space=space,
            author=author,
            author_department=departments.department_of(author),
            author_role=departments.role_of(author),
            body=canonical,
            body_html=markup.render(canonical),
            topic=slugify(topic)[:60],
            mentioned_departments=depts,
            created_at=created_at or timezone.now(),
        )
        post.customers.set(customers)
        post.mentioned_users.set(people)
        if request is not None:
            _create_request(post=post, data=request, author=author)
        _notify_mentions(
            post=post, text=canonical, source_key=f"post:{post.pk}", actor=author, url=post.get_absolute_url()
        )
        _record_customer_events(post, customers)
    return post


def _create_request(*, post: Post, data: RequestData, author) -> DepartmentRequest:
    request = DepartmentRequest.objects.create(
        post=post,
        kind=data.kind,
        from_department=post.author_department,
        to_department=data.to_department,
        priority=data.priority,
        due_date=data.due_date,
        requested_by=author,
        created_at=post.created_at,
    )
    name = author.get_full_name() or author.get_username()
    _notify(
        recipient_ids=department_members([data.to_department]).values_list("pk", flat=True),
        kind=Notification.Kind.REQUEST,
        source_key=f"request:{request.pk}",
        text=_("New %(kind)s from %(name)s: %(text)s")
        % {"kind": request.get_kind_display(), "name": name, "text": markup.plain(post.body, 120)},
        url=post.get_absolute_url(),
        post=post,
        actor=author,
    )
    return request


def post_edit(*, post: Post, editor, body: str) -> Post:
    """Change a post's text, keeping the previous text as a revision; new mentions and customer
    references notify and reach the timeline (old ones are not repeated)."""
    if editor.pk != post.author_id:
        raise PermissionDenied(_("Only the author can edit a post."))
    canonical, customers = resolve_references(author=editor, body=(body or "").strip())
    if not canonical:
        raise ValidationError({"body": _("Write something first.")})
    if canonical == post.body:
        return post
    people, depts = _mention_targets(canonical, exclude_user_id=None)
    with transaction.atomic():
        PostRevision.objects.create(post=post, body=post.body, edited_by=editor)
        post.body = canonical
        post.body_html = markup.render(canonical)
        post.edited_at = timezone.now()
        post.mentioned_departments = depts
        post.save(update_fields=["body", "body_html", "edited_at", "mentioned_departments"])
        post.customers.add(*customers)
        post.mentioned_users.add(*people)
        _notify_mentions(
            post=post, text=canonical, source_key=f"post:{post.pk}", actor=editor, url=post.get_absolute_url()
        )
        _record_customer_events(post, customers)
    return post


def reaction_toggle(*, post: Post, user, emoji: str) -> bool:
    """Add the reaction, or take it back when it exists; return whether it is now set."""
    if emoji not in Reaction.Emoji.values:
        raise ValidationError({"emoji": _("Unknown reaction.")})
    deleted, _rows = Reaction.objects.filter(post=post, user=user, emoji=emoji).delete()
    if deleted:
        return False
    Reaction.objects.get_or_create(post=post, user=user, emoji=emoji)
    return True


# --- Comments and answers ---------------------------------------------------------------------
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
                text=_("%(name)s answered your request: %(text)s")
                % {"name": name, "text": markup.plain(body, 120)},
                url=url,
                post=post,
                actor=author,
            )
        elif author.pk != post.author_id:
            _notify(
                recipient_ids=[post.author_id],
                kind=Notification.Kind.COMMENT,
                source_key=f"comment:{comment.pk}",
                text=_("%(name)s commented: %(text)s") % {"name": name, "text": markup.plain(body, 120)},
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


# --- Requests ------------------------------------------------------------------------------------
def request_may_work_on(request: DepartmentRequest, user) -> bool:
    return (
        request.to_department in departments.departments_of(user)
        or user.pk == request.requested_by_id
        or departments.department_of(user) in {departments.MANAGEMENT, departments.IT}
    )


def request_assign(*, request: DepartmentRequest, assignee, by) -> DepartmentRequest:
    """Give the request to one person of the receiving department."""
    if not request_may_work_on(request, by):
        raise PermissionDenied(_("Only the receiving department can assign this request."))
    if request.to_department not in departments.departments_of(assignee):
        raise ValidationError({"assignee": _("The assignee must belong to the receiving department.")})
    with transaction.atomic():
        DepartmentRequest.objects.filter(pk=request.pk).update(assignee=assignee)
        request.refresh_from_db()
        _notify(
            recipient_ids=[assignee.pk],
            kind=Notification.Kind.ASSIGNED,
            source_key=f"request:{request.pk}:assignee:{assignee.pk}",
            text=_("A request was assigned to you: %(text)s")
            % {"text": markup.plain(request.post.body, 120)},
            url=request.get_absolute_url(),
            post=request.post,
            actor=by,
        )
    return request


def request_resolve(*, request: DepartmentRequest, by, moment: datetime | None = None) -> DepartmentRequest:
    """Close the request; the time to resolution is recorded once."""
    if not request_may_work_on(request, by):
        raise PermissionDenied(_("Only the receiving department or the asker can resolve this request."))
    moment = moment or timezone.now()
    seconds = max(int((moment - request.created_at).total_seconds()), 0)
    with transaction.atomic():
        claimed = (
            DepartmentRequest.objects.filter(pk=request.pk)
            .exclude(status=DepartmentRequest.Status.RESOLVED)
            .update(
                status=DepartmentRequest.Status.RESOLVED,
                resolved_at=moment,
                resolved_by=by,
                resolution_seconds=seconds,
            )
        )
        request.refresh_from_db()
        if claimed:
            name = by.get_full_name() or by.get_username()
            _notify(
                recipient_ids=[request.requested_by_id],
                kind=Notification.Kind.RESOLVED,
                source_key=f"request:{request.pk}",
                text=_("%(name)s resolved your request: %(text)s")
                % {"name": name, "text": markup.plain(request.post.body, 120)},
                url=request.get_absolute_url(),
                post=request.post,
                actor=by,
            )
    return request


def requests_remind_overdue(*, today: date | None = None) -> int:
    """Remind the assignee (or the receiving department) and the asker of each overdue request,
    once per request and day; return how many requests were reminded."""
    today = today or timezone.localdate()
    reminded = 0
    for request in (
        DepartmentRequest.objects.overdue(today).exclude(last_reminded_on=today).select_related("post")
    ):
        with transaction.atomic():
            claimed = (
                DepartmentRequest.objects.filter(pk=request.pk)
                .filter(Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lt=today))
                .update(last_reminded_on=today)
            )
            if not claimed:
                continue
            if request.assignee_id:
                recipients = {request.assignee_id}
            else:
                recipients = set(department_members([request.to_department]).values_list("pk", flat=True))
            recipients.add(request.requested_by_id)
            _notify(
                recipient_ids=recipients,
                kind=Notification.Kind.OVERDUE,
                source_key=f"request:{request.pk}:{today.isoformat()}",
                text=_("Overdue since %(due)s: %(text)s")
                % {"due": request.due_date.isoformat(), "text": markup.plain(request.post.body, 120)},
                url=request.get_absolute_url(),
                post=request.post,
            )
            reminded += 1
    return reminded


# --- Moderation ----------------------------------------------------------------------------------
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


# --- Notifications -----------------------------------------------------------------------------
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
    lines = [f"- {n.text}" for n in items]
    with translation.override(None):
        subject = _("Customer 360: %(count)d unread notifications") % {"count": len(items)}
    try:
        send_mail(subject, "\n".join(lines), None, [subscription.user.email], fail_silently=False)
    except Exception:
        # Give the claim back so that the retried task sends them.
        Notification.objects.filter(pk__in=pending, emailed_at=now).update(emailed_at=None)
        raise
    return len(items)
