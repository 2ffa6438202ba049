"""Issue #14: the ticket, deal, activity, invoice and consent pages link to their record's History, for
exactly the readers the History route lets in (the same rule: the model's view permission and a
visible customer)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from tests.billing.factories import make_invoice
from tests.conftest import client_for
from tests.crm.factories import make_activity, make_deal, make_ticket
from tests.factories import CustomerFactory
from tests.marketing.factories import grant

pytestmark = pytest.mark.django_db

TAG = Template("{% load c360 %}{% history_url record as url %}{{ url }}")


def _link_for(user, record) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return TAG.render(Context({"request": request, "record": record}))


@pytest.fixture
def records(rep):
    customer = CustomerFactory(owner=rep, first_name="Franziska", last_name="Huber")
    return {
        "deal": make_deal(rep, customer, title="Premium"),
        "ticket": make_ticket(rep, customer),
        "activity": make_activity(rep, customer),
        "invoice": make_invoice(customer),
        "consent": grant(customer),
    }


PAGES = {
    "deal": "/sales/deals/{pk}/",
    "ticket": "/sales/tickets/{pk}/",
    "activity": "/sales/activities/{pk}/",
    "invoice": "/billing/invoices/{pk}/",
    "consent": "/marketing/customers/{customer}/consent/",
}


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_the_record_page_links_its_history_and_the_link_opens_it(kind, records, manager):
    record = records[kind]
    label = type(record)._meta.label_lower
    url = f"/history/{label}/{record.pk}/"
    client = client_for(manager)
    page = client.get(PAGES[kind].format(pk=record.pk, customer=record.customer_id))
    assert page.status_code == 200
    assert f'href="{url}"' in page.content.decode()
    history = client.get(url)
    assert history.status_code == 200
    assert "Franziska Huber" in history.content.decode()


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_the_link_is_offered_to_exactly_the_roles_the_history_route_lets_in(kind, records, role_users, rep2):
    record = records[kind]
    users = {**role_users, "Sales of another team": rep2}
    shown, allowed = set(), set()
    for name, user in users.items():
        if _link_for(user, record):
            shown.add(name)
        if client_for(user).get(f"/history/{type(record)._meta.label_lower}/{record.pk}/").status_code == 200:
            allowed.add(name)
    assert shown == allowed
    assert "Manager" in shown and "Sales of another team" not in shown  # the check can fail both ways


def test_a_reader_without_the_models_permission_gets_no_link(records, marketing_user, accounting_user):
    assert _link_for(marketing_user, records["deal"]) == ""  # marketing does not read deals
    assert _link_for(accounting_user, records["ticket"]) == ""
    assert client_for(marketing_user).get(f"/history/crm.deal/{records['deal'].pk}/").status_code == 403


def test_each_consent_row_links_its_own_history(records, manager):
    customer = records["consent"].customer
    second = grant(customer, channel="phone", purpose="offers", confirmed=False)
    page = client_for(manager).get(f"/marketing/customers/{customer.pk}/consent/").content.decode()
    for consent in (records["consent"], second):
        assert f'href="/history/marketing.consent/{consent.pk}/"' in page
