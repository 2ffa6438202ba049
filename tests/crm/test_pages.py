"""Pages: role gates (403), customer scope (404), refusals shown, htmx log-a-call, query counts."""

from datetime import date

import pytest
from django.urls import reverse

from crm.models import Activity, Ticket
from crm.panels import sales_context, service_context
from customer360.models import TimelineEvent
from tests.conftest import client_for
from tests.crm.factories import make_activity, make_contract, make_deal, make_ticket
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

READ = {
    "Sales": True,
    "Service": True,
    "Marketing": False,
    "Accounting": False,
    "Manager": True,
    "Admin": True,
}
EDIT_DEALS = {
    "Sales": True,
    "Service": False,
    "Marketing": False,
    "Accounting": False,
    "Manager": False,
    "Admin": True,
}
EDIT_TICKETS = {
    "Sales": False,
    "Service": True,
    "Marketing": False,
    "Accounting": False,
    "Manager": False,
    "Admin": True,
}


@pytest.mark.parametrize("role", list(READ))
def test_list_pages_by_role(role_users, role):
    client = client_for(role_users[role])
    for name in ("crm:deal_list", "crm:ticket_list", "crm:activity_list"):
        response = client.get(reverse(name))
        assert response.status_code == (200 if READ[role] else 403), name
        if not READ[role]:
            assert "crm.view_" in response.content.decode()


@pytest.mark.parametrize("role", list(EDIT_DEALS))
def test_deal_actions_by_role(role_users, rep, role):
    user = role_users[role]
    deal = make_deal(rep, CustomerFactory(owner=None))  # unowned: visible to every sales user
    response = client_for(user).post(reverse("crm:deal_won", args=[deal.pk]))
    deal.refresh_from_db()
    if EDIT_DEALS[role]:
        assert response.status_code == 302 and deal.status == "won"
    else:
        assert response.status_code == 403 and deal.status == "open"
    assert (client_for(user).get(reverse("crm:deal_create")).status_code == 200) is EDIT_DEALS[role]


@pytest.mark.parametrize("role", list(EDIT_TICKETS))
def test_ticket_actions_by_role(role_users, service_user, role):
    ticket = make_ticket(service_user, customer=CustomerFactory(owner=None))
    response = client_for(role_users[role]).post(reverse("crm:ticket_solve", args=[ticket.pk]))
    ticket.refresh_from_db()
    assert (ticket.status == "solved") is EDIT_TICKETS[role]
    assert response.status_code == (302 if EDIT_TICKETS[role] else 403)


def test_records_of_invisible_customers_answer_404(rep, rep2):
    other = CustomerFactory(owner=rep2)  # rep2 is in team Graz, rep in Wien
    deal = make_deal(rep2, other)
    assert client_for(rep).get(reverse("crm:deal_detail", args=[deal.pk])).status_code == 404
    assert client_for(rep).post(reverse("crm:deal_won", args=[deal.pk])).status_code == 404
    assert client_for(rep2).get(reverse("crm:deal_detail", args=[deal.pk])).status_code == 200


def test_refused_transition_shows_a_clear_message(service_user, customer):
    ticket = make_ticket(service_user, customer=customer)
    client = client_for(service_user)
    response = client.post(reverse("crm:ticket_csat", args=[ticket.pk]), {"score": "2"}, follow=True)
    assert "Satisfaction can only be recorded for a solved ticket." in response.content.decode()
    assert not TimelineEvent.objects.filter(kind="csat.received").exists()


def test_ticket_detail_reply_and_note(service_user, customer):
    ticket = make_ticket(service_user, customer=customer)
    client = client_for(service_user)
    client.post(reverse("crm:ticket_reply", args=[ticket.pk]), {"body": "We are on it"})
    client.post(reverse("crm:ticket_reply", args=[ticket.pk]), {"body": "check stock", "is_internal": "on"})
    page = client.get(reverse("crm:ticket_detail", args=[ticket.pk])).content.decode()
    assert "We are on it" in page and "check stock" in page and "Internal note" in page
    assert TimelineEvent.objects.filter(kind__in=["ticket.replied", "ticket.note"]).count() == 2


def test_log_call_from_the_360_panel(rep, customer):
    client = client_for(rep)
    url = reverse("crm:log_call", args=[customer.pk])
    response = client.post(
        url,
        {"kind": "call", "subject": "Renewal", "outcome": "reached", "follow_up_date": "2030-01-15"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "timeline-changed"
    html = response.content.decode()
    assert 'id="crm-sales-panel"' in html and "Reached" in html
    activity = Activity.objects.get()
    assert activity.user == rep and str(activity.follow_up_date) == "2030-01-15"
    assert TimelineEvent.objects.filter(kind="call.logged", customer=customer).count() == 1
    invalid = client.post(url, {"kind": "call", "subject": ""}, HTTP_HX_REQUEST="true")
    assert "HX-Trigger" not in invalid and "This field is required." in invalid.content.decode()
    assert Activity.objects.count() == 1


def test_360_page_shows_both_panels(rep, service_user, customer):
    make_contract(rep, customer)
    make_ticket(service_user, customer=customer, category="complaint")
    html = client_for(rep).get(customer.get_absolute_url()).content.decode()
    assert "Basic plan" in html and "Open complaint" in html and "Log a call" in html


def _seed(rep, service_user, n):
    for i in range(n):
        c = CustomerFactory(owner=rep)
        make_deal(rep, c, title=f"Deal {i}")
        make_ticket(service_user, customer=c, assignee=service_user)
        make_activity(rep, c, follow_up_date=date(2030, 1, 1))


@pytest.mark.parametrize("name", ["crm:deal_list", "crm:ticket_list", "crm:activity_list"])
def test_list_page_queries_do_not_grow(rep, service_user, manager, django_assert_max_num_queries, name):
    client = client_for(manager if name != "crm:activity_list" else rep)
    _seed(rep, service_user, 3)
    client.get(reverse(name))  # warm session/permission caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(reverse(name))
    _seed(rep, service_user, 27)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse(name))
    assert response.content.decode().count("-row") >= 30


def test_board_view_groups_open_deals_by_stage(rep):
    make_deal(rep, amount=100)
    make_deal(rep, amount=50)
    html = client_for(rep).get(reverse("crm:deal_list") + "?view=board").content.decode()
    assert "Qualification" in html and "EUR 150.00" in html


def test_panel_contexts_use_at_most_three_queries(
    rf, rep, service_user, customer, django_assert_max_num_queries
):
    for _ in range(5):
        make_contract(rep, customer)
        make_deal(rep, customer)
        make_activity(rep, customer)
        ticket = make_ticket(service_user, customer=customer, category="complaint")
    from crm import services

    services.ticket_solve(ticket=ticket, user=service_user)
    services.ticket_record_csat(ticket=ticket, score=2)
    request = rf.get("/")
    request.user = rep
    rep.has_perm("crm.add_activity")  # the 360 page has already loaded permissions
    with django_assert_max_num_queries(4):  # the 4th: the customer's orders (purchases), one grouped read
        sales = sales_context(request, customer)
    with django_assert_max_num_queries(3):
        service = service_context(request, customer)
    assert sales["open_deals"] == 5 and sales["open_deal_value"] == 5 * 890
    assert sales["last_contact"].user == rep
    assert service["open_count"] == 4 and service["open_complaint"] is True
    assert service["last_csat"].score == 2
    assert Ticket.objects.filter(customer=customer).count() == 5


def test_unauthenticated_redirects_to_login(client):
    assert client.get(reverse("crm:deal_list")).status_code == 302


def test_the_log_a_call_form_speaks_each_readers_language(rep, customer):
    """The empty form is rendered once per language and reused: a German reader after an English one
    still gets German labels, and a refused entry shows the reader's own data and error."""
    client = client_for(rep)
    english = client.get(customer.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    german = client.get(customer.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    again = client.get(customer.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="subject"' in english and "Follow-up" in english and "Wiedervorlage" not in english
    assert 'name="subject"' in german and "Wiedervorlage" in german and "Follow-up" not in german
    assert "Follow-up" in again
    refused = client.post(
        reverse("crm:log_call", args=[customer.pk]),
        {"kind": "call", "subject": "", "notes": "left a message"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "left a message" in refused and "This field is required." in refused
