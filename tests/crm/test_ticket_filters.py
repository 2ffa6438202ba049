"""The ticket list opens on the open tickets; "All open", "Open", "Solved", "Closed" and "All" are
different lists; the satisfaction form has no preset score."""

import pytest

from crm.forms import CsatForm
from crm.models import Ticket
from tests.conftest import client_for
from tests.crm.factories import make_ticket
from tests.factories import CustomerFactory, assign

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets(service_user):
    made = {}
    for status in ("new", "open", "waiting", "solved", "closed"):
        ticket = make_ticket(service_user, assign(CustomerFactory(), "service"), subject=f"T-{status}")
        Ticket.objects.filter(pk=ticket.pk).update(status=status)
        made[status] = ticket
    return made


def subjects(client, query: str) -> set[str]:
    html = client.get(f"/sales/tickets/{query}").content.decode()
    return {f"T-{s}" for s in ("new", "open", "waiting", "solved", "closed") if f">T-{s}<" in html}


def test_status_filters_are_distinct(service_user, tickets):
    client = client_for(service_user)
    unsolved = {"T-new", "T-open", "T-waiting"}
    assert subjects(client, "") == unsolved  # open tickets by default
    assert subjects(client, "?status=unsolved") == unsolved
    assert subjects(client, "?status=open") == {"T-open"}
    assert subjects(client, "?status=waiting") == {"T-waiting"}
    assert subjects(client, "?status=solved") == {"T-solved"}
    assert subjects(client, "?status=closed") == {"T-closed"}
    assert subjects(client, "?status=all") == unsolved | {"T-solved", "T-closed"}


def test_csat_has_no_preset_score():
    form = CsatForm()
    assert form["score"].value() in (None, "")
    assert not CsatForm({"score": "", "comment": "gut"}).is_valid()
    assert CsatForm({"score": "4"}).is_valid()
