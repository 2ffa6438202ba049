"""Stand-in declarations of department kinds for core tests, with the agreed tags.

The core reads kind sets from the registry (``events.kinds(contact=True)``, ``kinds(tag=...)``);
the departments' real declarations live in their own ``events.py``. Where a kind a test needs is not
declared (yet) on this branch, the fixture declares a minimal stand-in for the test's duration and
removes it again; a real declaration always wins.
"""

import pytest
from django.utils.translation import gettext_lazy as _

from customer360 import events

STAND_INS = {
    # kind: (department, contact, tags)
    # the contacts the brief and the NBA features counted before the registry: logged by staff
    "call.logged": ("sales", True, ()),
    "meeting.logged": ("sales", True, ()),
    "visit.logged": ("sales", True, ()),
    "email.logged": ("sales", True, ()),
    "ticket.opened": ("service", False, ("ticket", "complaint", "state", "customer_text")),
    "invoice.paid": ("accounting", False, ("invoice", "invoice_closed", "payment", "state")),
    "payment.received": ("accounting", False, ("payment", "revenue", "state")),
    "consent.withdrawn": ("marketing", False, ("consent", "state")),
}


@pytest.fixture
def stand_in_kinds():
    added = []
    for kind, (department, contact, tags) in STAND_INS.items():
        if events.get(kind) is None:
            events.declare(kind, department=department, label=_(kind), title=kind, contact=contact, tags=tags)
            added.append(kind)
    yield added
    for kind in added:
        events._kinds.pop(kind, None)
