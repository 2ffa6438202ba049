"""Core workflows that write the timeline."""

from __future__ import annotations

from django.utils.translation import gettext as _

from customer360 import roles, timeline
from customer360.models import Channel, Customer, Department, Direction, TimelineEvent


def note_add(*, customer: Customer, user, text: str, token: str) -> TimelineEvent:
    """A free note by any employee, filed under the author's department."""
    departments = roles.departments_of(user)
    event, _created = timeline.record(
        customer=customer,
        department=departments[0] if departments else Department.INTERNAL,
        kind="note.added",
        title=_("Note by %(name)s") % {"name": user.get_full_name() or user.get_username()},
        summary=text,
        channel=Channel.INTERNAL,
        direction=Direction.INTERNAL,
        actor=user,
        idempotency_key=timeline.idempotency_key("core.note", customer.pk, token),
    )
    return event
