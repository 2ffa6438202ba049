"""Cross-department requests: who may work on them, assignment, resolution, overdue reminders."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from collab import departments, markup
from collab.models import (
    DepartmentRequest,
    Notification,
)
from collab.services.notifications import _notify, department_members


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
            message=gettext_noop("A request was assigned to you: %(text)s"),
            params={"text": markup.plain(request.post.body, 120)},
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
                message=gettext_noop("%(name)s resolved your request: %(text)s"),
                params={"name": name, "text": markup.plain(request.post.body, 120)},
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
                message=gettext_noop("Overdue since %(due)s: %(text)s"),
                params={"due": request.due_date.isoformat(), "text": markup.plain(request.post.body, 120)},
                url=request.get_absolute_url(),
                post=request.post,
            )
            reminded += 1
    return reminded
