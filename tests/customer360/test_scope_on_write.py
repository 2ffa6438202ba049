"""Scope on write: records can be created only for customers the user may see, and a customer out
of scope is answered exactly like one that does not exist, in the API, the pages and the forms.
Nothing is created and the user's scope stays as it was."""

import pytest
from django.apps import apps

from customer360.models import Customer
from tests.conftest import client_for
from tests.factories import CustomerFactory

MISSING = 987654


def counts() -> dict[str, int]:
    models = [
        "crm.Deal",
        "crm.Activity",
        "crm.Contract",
        "crm.Ticket",
        "billing.Invoice",
        "marketing.Consent",
    ]
    models += ["marketing.Touch", "customer360.TimelineEvent", "customer360.CustomerAssignment"]
    return {label: apps.get_model(label).objects.count() for label in models}


def normalised(response, pk: int) -> dict:
    """The answer with the customer id in the customer field's message replaced by a placeholder."""
    body = response.json()
    if isinstance(body.get("customer"), list):
        body["customer"] = [m.replace(f'"{pk}"', '"ID"') for m in body["customer"]]
    return body


@pytest.fixture
def hidden(rep2):
    """Another team's customer, assigned to no department: out of scope for rep, accounting, marketing."""
    return CustomerFactory(owner=rep2, first_name="Verena", last_name="Geheim")


@pytest.fixture
def campaign(db):
    from marketing.models import Campaign

    return Campaign.objects.create(name="Spring", channel="email", purpose="newsletter", status="running")


def api_writes(hidden_or_missing: int, campaign) -> dict[str, list[tuple[str, dict]]]:
    c = hidden_or_missing
    return {
        "rep": [
            ("/api/crm/deals/", {"customer": c, "title": "Upsell", "amount": "100.00"}),
            (
                "/api/crm/activities/",
                {"customer": c, "kind": "call", "subject": "Call", "due_date": "2030-01-01"},
            ),
            ("/api/crm/contracts/", {"customer": c, "product": 1, "start": "2030-01-01"}),
        ],
        "accounting": [
            (
                "/api/billing/invoices/",
                {
                    "customer": c,
                    "due_date": "2030-01-31",
                    "lines": [
                        {"description": "x", "quantity": "1", "unit_price": "1.00", "tax_rate": "20.00"}
                    ],
                },
            )
        ],
        "marketing": [
            (
                "/api/marketing/consents/grant/",
                {"customer": c, "channel": "email", "purpose": "newsletter", "method": "web_form"},
            ),
            (
                "/api/marketing/consents/withdraw/",
                {"customer": c, "channel": "email", "purpose": "newsletter", "reason": "x"},
            ),
            (f"/api/marketing/campaigns/{campaign.pk}/record-touch/", {"customer": c, "status": "sent"}),
        ],
    }


@pytest.mark.django_db
def test_api_writes_for_an_out_of_scope_customer_answer_like_a_missing_one(
    rep, accounting_user, marketing_user, hidden, campaign
):
    users = {"rep": rep, "accounting": accounting_user, "marketing": marketing_user}
    before, scopes = counts(), {k: set(Customer.objects.visible_to(u)) for k, u in users.items()}
    for key, user in users.items():
        client = client_for(user)
        for (url, out_of_scope), (_, missing) in zip(
            api_writes(hidden.pk, campaign)[key], api_writes(MISSING, campaign)[key], strict=True
        ):
            answer = client.post(url, out_of_scope, content_type="application/json")
            like_missing = client.post(url, missing, content_type="application/json")
            assert answer.status_code in (400, 404), (url, answer.content)
            assert (answer.status_code, normalised(answer, hidden.pk)) == (
                like_missing.status_code,
                normalised(like_missing, MISSING),
            ), url
            assert b"Geheim" not in answer.content
    assert counts() == before
    assert {k: set(Customer.objects.visible_to(u)) for k, u in users.items()} == scopes


@pytest.mark.django_db
def test_page_forms_refuse_an_out_of_scope_customer_like_a_missing_one(rep, accounting_user, hidden):
    before = counts()
    forms = [
        (rep, "/sales/deals/new/", {"title": "Upsell", "amount": "100"}),
        (rep, "/sales/activities/new/", {"kind": "call", "subject": "Call", "due_date": "2030-01-01"}),
        (accounting_user, "/billing/invoices/new/", {"issue_date": "2030-01-01", "due_date": "2030-01-31"}),
    ]
    for user, url, data in forms:
        client = client_for(user)
        for value in (hidden.customer_number, str(hidden.pk)):
            page = client.post(url, {**data, "customer": value}).content.decode()
            assert f"No customer with number {value}." in page, url
            assert "Geheim" not in page
    assert counts() == before


@pytest.mark.django_db
def test_consent_page_of_an_out_of_scope_customer_is_404(marketing_user, hidden):
    client = client_for(marketing_user)
    assert client.get(f"/marketing/customers/{hidden.pk}/consent/").status_code == 404
    assert client.get(f"/marketing/customers/{MISSING}/consent/").status_code == 404
    response = client.post(
        f"/marketing/customers/{hidden.pk}/consent/",
        {"action": "grant", "channel": "email", "purpose": "newsletter", "method": "web_form"},
    )
    assert response.status_code == 404 and b"Geheim" not in response.content
    assert not hidden.events.exists()


@pytest.mark.django_db
def test_in_scope_writes_still_work_and_do_not_change_scope(rep, customer):
    client = client_for(rep)
    response = client.post(
        "/api/crm/deals/",
        {"customer": customer.pk, "title": "Upsell", "amount": "100.00"},
        "application/json",
    )
    assert response.status_code == 201 and response.json()["customer"] == customer.pk
    assert not customer.assignments.exists()
