"""Posts: customer references, the customer timeline entries they write (through
``customer360.timeline.record``, idempotent per post and customer), edits and reactions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from collab import departments, markup
from collab.events import INTERNAL_POST, INTERNAL_REQUEST
from collab.models import (
    DepartmentRequest,
    Notification,
    Post,
    PostRevision,
    Reaction,
    Space,
)
from collab.services.conduct import _require_conduct
from collab.services.notifications import _mention_targets, _notify, _notify_mentions, department_members
from collab.services.spaces import space_for_department
from customer360 import search, timeline
from customer360.events import EventKind
from customer360.models import Customer

MAX_REFERENCES = 10


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
        notified: set[int] = set()
        if request is not None:
            notified = _create_request(post=post, data=request, author=author)
        _notify_mentions(
            post=post,
            text=canonical,
            source_key=f"post:{post.pk}",
            actor=author,
            url=post.get_absolute_url(),
            already=notified,
        )
        _record_customer_events(post, customers)
    return post


def _create_request(*, post: Post, data: RequestData, author) -> set[int]:
    """The request behind ``post``; returns who was notified of it (the department's members)."""
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
    members = set(department_members([data.to_department]).values_list("pk", flat=True))
    _notify(
        recipient_ids=members,
        kind=Notification.Kind.REQUEST,
        source_key=f"request:{request.pk}",
        message=gettext_noop("New %(kind)s from %(name)s: %(text)s"),
        params={"kind": request.kind, "name": name, "text": markup.plain(post.body, 120)},
        url=post.get_absolute_url(),
        post=post,
        actor=author,
    )
    return members


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
