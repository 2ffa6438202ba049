"""The event kinds the internal feed records on a customer's timeline: a post or a request that
names the customer. Only readers of the post's space see them (the event's audience)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from collab import departments
from customer360 import events
from customer360.events import Field
from customer360.models import Channel, Department, Direction


def department_label(value) -> str:
    """The receiving department in the reader's language (stored raw in the payload)."""
    return str(departments.LABELS.get(value, value))


_REFERENCES = [
    Field("post_id", "int"),
    Field("space_id", "int"),
    Field("request_id", required=False),
]

INTERNAL_POST = events.declare(
    "internal.post",
    department=Department.INTERNAL,
    channel=Channel.INTERNAL,
    direction=Direction.INTERNAL,
    label=_("Internal discussion"),
    fields=[Field("space"), Field("who"), Field("text"), *_REFERENCES],
    title=_("Internal discussion in %(space)s by %(who)s: %(text)s"),
)

INTERNAL_REQUEST = events.declare(
    "internal.request",
    department=Department.INTERNAL,
    channel=Channel.INTERNAL,
    direction=Direction.INTERNAL,
    label=_("Internal request"),
    fields=[Field("dept", department_label), Field("who"), Field("text"), *_REFERENCES],
    title=_("Internal request to %(dept)s by %(who)s: %(text)s"),
)
