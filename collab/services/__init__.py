"""Workflows of the feed that cross models, notify people or write the customer timeline.

A package by concern; every public name stays importable from ``collab.services``.
"""

from collab.services.comments import _record_first_answer, comment_accept, comment_create
from collab.services.conduct import _require_conduct, conduct_accept, conduct_pending, conduct_publish
from collab.services.moderation import post_moderate, post_report
from collab.services.notifications import (
    _mention_targets,
    _notify,
    _notify_mentions,
    department_members,
    digest_send,
    notifications_mark_read,
    space_reader_ids,
)
from collab.services.posts import (
    MAX_REFERENCES,
    RequestData,
    _create_request,
    _record_customer_events,
    customer_event_payload,
    customer_event_summary,
    post_create,
    post_edit,
    reaction_toggle,
    resolve_references,
    strip_references,
)
from collab.services.requests import (
    request_assign,
    request_may_work_on,
    request_resolve,
    requests_remind_overdue,
)
from collab.services.spaces import space_create, space_for_department, spaces_ensure_departments

__all__ = [
    "MAX_REFERENCES",
    "RequestData",
    "_create_request",
    "_mention_targets",
    "_notify",
    "_notify_mentions",
    "_record_customer_events",
    "_record_first_answer",
    "_require_conduct",
    "comment_accept",
    "comment_create",
    "conduct_accept",
    "conduct_pending",
    "conduct_publish",
    "department_members",
    "digest_send",
    "notifications_mark_read",
    "post_create",
    "post_edit",
    "post_moderate",
    "post_report",
    "reaction_toggle",
    "request_assign",
    "request_may_work_on",
    "request_resolve",
    "requests_remind_overdue",
    "resolve_references",
    "space_create",
    "space_for_department",
    "space_reader_ids",
    "spaces_ensure_departments",
    "strip_references",
    "customer_event_payload",
    "customer_event_summary",
]
