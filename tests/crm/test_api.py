"""API: permissions per role (403), customer scope (404), 400 naming field and reason, query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from crm.models import Deal, Stage, Ticket
from customer360.models import TimelineEvent
from tests.crm.factories import make_activity, make_deal, make_ticket
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


READ = {"Sales": 200, "Service": 200, "Marketing": 403, "Accounting": 403, "Manager": 200, "Admin": 200}


@pytest.mark.parametrize("role", list(READ))
def test_read_endpoints_by_role(role_users, role):
    for endpoint in ("deals", "tickets", "activities", "contracts", "products", "pipelines", "stages"):
        assert api(role_users[role]).get(f"/api/crm/{endpoint}/").status_code == READ[role], endpoint


@pytest.mark.parametrize(
    ("role", "deal_status", "ticket_status"),
    [
        ("Sales", 201, 403),
        ("Service", 403, 201),
        ("Marketing", 403, 403),
        ("Accounting", 403, 403),
        ("Manager", 403, 403),
        ("Admin", 201, 201),
    ],
)
def test_create_by_role(role_users, role, deal_status, ticket_status):
    customer = CustomerFactory(owner=None)
    client = api(role_users[role])
    deal = client.post("/api/crm/deals/", {"customer": customer.pk, "title": "Premium", "amount": "890.00"})
    ticket = client.post(
        "/api/crm/tickets/",
        {"customer": customer.pk, "subject": "Late delivery", "category": "complaint", "priority": "high"},
    )
    assert (deal.status_code, ticket.status_code) == (deal_status, ticket_status)


def test_customer_scope_answers_404(rep, rep2):
    deal = make_deal(rep2, CustomerFactory(owner=rep2))
    assert api(rep).get(f"/api/crm/deals/{deal.pk}/").status_code == 404
    assert api(rep).post(f"/api/crm/deals/{deal.pk}/won/").status_code == 404
    assert api(rep).get("/api/crm/deals/").json()["count"] == 0
    assert api(rep2).get(f"/api/crm/deals/{deal.pk}/").status_code == 200


def test_deal_actions_and_400s(rep, customer):
    client = api(rep)
    created = client.post(
        "/api/crm/deals/",
        {"customer": customer.pk, "title": "Premium", "amount": "890"},
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    again = client.post(
        "/api/crm/deals/",
        {"customer": customer.pk, "title": "Premium", "amount": "890"},
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert created.status_code == again.status_code == 201 and created.json()["id"] == again.json()["id"]
    pk = created.json()["id"]
    proposal = Stage.objects.get(name="Proposal").pk
    moved = client.post(f"/api/crm/deals/{pk}/move/", {"stage": proposal})
    assert moved.status_code == 200 and moved.json()["stage_name"] == "Proposal"
    no_reason = client.post(f"/api/crm/deals/{pk}/lost/", {})
    assert no_reason.status_code == 400 and "lost_reason" in no_reason.json()
    assert client.post(f"/api/crm/deals/{pk}/lost/", {"reason": "Budget"}).status_code == 200
    won = client.post(f"/api/crm/deals/{pk}/won/")
    assert won.status_code == 400 and won.json() == {"status": ["The deal is already Lost."]}
    assert Deal.objects.get().status == "lost"
    assert sorted(TimelineEvent.objects.values_list("kind", flat=True)) == [
        "deal.created",
        "deal.lost",
        "deal.stage_changed",
    ]


def test_ticket_actions_and_400s(service_user, customer):
    client = api(service_user)
    pk = client.post(
        "/api/crm/tickets/",
        {
            "customer": customer.pk,
            "subject": "Lieferung verspätet",
            "category": "complaint",
            "priority": "high",
        },
    ).json()["id"]
    csat_early = client.post(f"/api/crm/tickets/{pk}/csat/", {"score": 3})
    assert csat_early.status_code == 400 and "ticket" in csat_early.json()
    reply = client.post(f"/api/crm/tickets/{pk}/reply/", {"body": "On it", "is_internal": False})
    assert reply.status_code == 201
    assert client.post(f"/api/crm/tickets/{pk}/solve/").json()["status"] == "solved"
    assert client.post(f"/api/crm/tickets/{pk}/csat/", {"score": 2, "comment": "slow"}).status_code == 201
    assert client.post(f"/api/crm/tickets/{pk}/close/").json()["status"] == "closed"
    solve_closed = client.post(f"/api/crm/tickets/{pk}/solve/")
    assert solve_closed.status_code == 400 and "status" in solve_closed.json()
    assert len(client.get(f"/api/crm/tickets/{pk}/messages/").json()) == 1
    assert client.get("/api/crm/tickets/?category=complaint&status=closed").json()["count"] == 1
    assert client.get("/api/crm/tickets/?sla=breached").json()["count"] == 0


def _seed(rep, service_user, n):
    for i in range(n):
        c = CustomerFactory(owner=rep)
        make_deal(rep, c, title=f"Deal {i}")
        make_ticket(service_user, customer=c)
        make_activity(rep, c)


@pytest.mark.parametrize("endpoint", ["deals", "tickets", "activities", "contracts"])
def test_list_endpoint_queries_do_not_grow(
    manager, rep, service_user, django_assert_max_num_queries, endpoint
):
    client = api(manager)
    _seed(rep, service_user, 3)
    client.get(f"/api/crm/{endpoint}/")
    with CaptureQueriesContext(connection) as small:
        client.get(f"/api/crm/{endpoint}/")
    _seed(rep, service_user, 27)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(f"/api/crm/{endpoint}/")
    if endpoint != "contracts":
        assert response.json()["count"] == 30
    assert Ticket.objects.count() == 30
