"""The event kinds the core itself records: customers created, merged and unmerged, free notes.

``customer360/events.py`` is the registry; this module holds the core's own declarations (imported
when the core app is ready, like every app's ``events.py``). Imported events of kinds nobody
declares (a data source's custom events) keep their stored text and are not declared here.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from customer360 import events
from customer360.events import Field
from customer360.models import Channel, Department, Direction

CUSTOMER_CREATED = events.declare(
    "customer.created",
    department=Department.SYSTEM,
    channel=Channel.OTHER,
    direction=Direction.INTERNAL,
    label=_("Customer created"),
    # The data source (when imported) is the event's actor label; it is kept in the payload too.
    fields=[Field("source", required=False)],
    title=_("Customer created"),
)

CUSTOMER_MERGED = events.declare(
    "customer.merged",
    department=Department.SYSTEM,
    channel=Channel.OTHER,
    direction=Direction.INTERNAL,
    label=_("Customers merged"),
    fields=[
        Field("other"),
        Field("merge_id", "int"),
        Field("merged_customer_id", "int"),
        Field("moved", required=False),
    ],
    title=_("Merged %(other)s into this customer"),
)

CUSTOMER_MERGE_UNDONE = events.declare(
    "customer.merge_undone",
    department=Department.SYSTEM,
    channel=Channel.OTHER,
    direction=Direction.INTERNAL,
    label=_("Merge undone"),
    fields=[Field("other"), Field("merge_id", "int"), Field("merged_customer_id", "int")],
    title=_("Undid the merge of %(other)s"),
)

NOTE_ADDED = events.declare(
    "note.added",
    department=Department.INTERNAL,  # recorded under the author's department
    channel=Channel.INTERNAL,
    direction=Direction.INTERNAL,
    label=_("Note"),
    fields=[Field("name")],
    title=_("Note by %(name)s"),
)


def _field_labels(names) -> str:
    """The changed fields by their labels in the reader's language (the values stay out of the
    timeline, which is read widely; the change history keeps them)."""
    from customer360.models import Customer

    labels = []
    for name in names or ():
        try:
            labels.append(str(Customer._meta.get_field(name).verbose_name))
        except Exception:  # a field renamed since: its stored name
            labels.append(str(name))
    return ", ".join(labels)


CUSTOMER_CHANGED = events.declare(
    "customer.changed",
    department=Department.INTERNAL,  # recorded under the editor's department
    channel=Channel.INTERNAL,
    direction=Direction.INTERNAL,
    label=_("Record changed"),
    fields=[Field("name"), Field("fields", _field_labels)],
    title=_("Record changed by %(name)s: %(fields)s"),
)
