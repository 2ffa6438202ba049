"""The customer record edited in place: htmx swaps the form in and the saved record back, bad input
comes back as the form with its message, the change is on the timeline, scope and permission hold."""

import pytest

from customer360.models import Customer, TimelineEvent
from tests.conftest import client_for
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def form_data(customer, **changes):
    data = {
        name: getattr(customer, name) or ""
        for name in ("kind", "first_name", "last_name", "company", "email", "phone", "street", "postcode")
    }
    data.update(city=customer.city, country=customer.country, lifecycle=customer.lifecycle)
    data.update(preferred_language=customer.preferred_language, birth_date="")
    data.update(changes)
    return data


def test_inline_edit_saves_and_records_on_the_timeline(rep, customer):
    client = client_for(rep)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'id="edit-record"' in page
    form = client.get(f"/customers/{customer.pk}/edit/", **HTMX)
    assert form.status_code == 200 and 'id="save-record"' in form.content.decode()
    saved = client.post(
        f"/customers/{customer.pk}/edit/",
        form_data(customer, city="Salzburg", email="Franz@Example.AT"),
        **HTMX,
    )
    assert saved.status_code == 200 and saved["HX-Trigger"] == "timeline-changed"
    assert 'id="record-saved"' in saved.content.decode() and "Salzburg" in saved.content.decode()
    customer.refresh_from_db()
    assert customer.city == "Salzburg" and customer.email == "franz@example.at"
    event = TimelineEvent.objects.get(customer=customer, kind="customer.changed")
    assert event.payload == {"name": "Anna Berger", "fields": ["email", "city"]} and "city" in event.title


def test_bad_input_returns_the_form_with_its_message(rep, customer):
    answer = client_for(rep).post(
        f"/customers/{customer.pk}/edit/", form_data(customer, email="not-an-address"), **HTMX
    )
    assert answer.status_code == 200 and 'class="error"' in answer.content.decode()
    assert Customer.objects.get(pk=customer.pk).email == customer.email
    assert not TimelineEvent.objects.filter(customer=customer, kind="customer.changed").exists()


def test_out_of_scope_is_404_and_without_permission_403(rep, rep2, marketing_user):
    other = CustomerFactory(last_name="Fremd", owner=rep2)
    answer = client_for(rep).post(f"/customers/{other.pk}/edit/", form_data(other, city="Graz"))
    assert answer.status_code == 404 and Customer.objects.get(pk=other.pk).city != "Graz"
    assert client_for(marketing_user).get(f"/customers/{other.pk}/edit/").status_code == 403  # read-only role


def test_without_javascript_the_form_is_a_page_and_saving_redirects(rep, customer):
    client = client_for(rep)
    assert "<html" in client.get(f"/customers/{customer.pk}/edit/").content.decode()
    answer = client.post(f"/customers/{customer.pk}/edit/", form_data(customer, company="Gruber KG"))
    assert answer.status_code == 302 and Customer.objects.get(pk=customer.pk).company == "Gruber KG"
