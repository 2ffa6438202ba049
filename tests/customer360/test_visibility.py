"""Who may see which customer: decided in Customer.objects.visible_to, enforced as 404."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from customer360 import services, timeline
from customer360.models import Customer, CustomerAssignment, TimelineEvent
from tests.conftest import client_for
from tests.factories import CustomerFactory, UserFactory


@pytest.fixture
def customers(rep, rep2):
    teammate = UserFactory(username="teammate", role="Sales", team="Wien")
    return {
        "own": CustomerFactory(owner=rep),
        "team": CustomerFactory(owner=teammate),
        "other_team": CustomerFactory(owner=rep2),
        "unowned": CustomerFactory(owner=None),
    }


@pytest.mark.django_db
def test_rep_sees_own_team_and_unowned_customers(rep, customers):
    visible = set(Customer.objects.visible_to(rep))
    assert visible == {customers["own"], customers["team"], customers["unowned"]}


@pytest.mark.django_db
def test_assigned_departments_see_assigned_customers_and_their_own_records_widen_nothing(
    accounting_user, manager, customers
):
    target = customers["other_team"]
    assert not Customer.objects.visible_to(accounting_user).exists()
    # Accounting's own records with a customer do not put it into accounting's scope...
    timeline.record(
        customer=target,
        department="accounting",
        kind="invoice.issued",
        title="Invoice",
        idempotency_key="i:1",
    )
    assert not Customer.objects.visible_to(accounting_user).exists()
    # ...a recorded decision of a lead or an admin does, until it is revoked.
    assignment = services.customer_assign(customer=target, by=manager, department="accounting", reason="ERP")
    assert list(Customer.objects.visible_to(accounting_user)) == [target]
    assert (assignment.granted_by, assignment.origin, assignment.reason) == (manager, "manual", "ERP")
    services.assignment_revoke(assignment=assignment, by=manager)
    assert not Customer.objects.visible_to(accounting_user).exists()
    assignment.refresh_from_db()
    assert assignment.revoked_by == manager and assignment.revoked_at is not None


@pytest.mark.django_db
def test_a_person_assigned_to_a_customer_sees_it_whatever_their_role(rep, manager, customers):
    target = customers["other_team"]
    assert target not in Customer.objects.visible_to(rep)
    services.customer_assign(customer=target, by=manager, user=rep, reason="holiday cover for rep2")
    assert target in Customer.objects.visible_to(rep)


@pytest.mark.django_db
def test_only_leads_and_admins_assign_and_only_customers_they_see(rep, accounting_user, manager, customers):
    with pytest.raises(PermissionDenied):
        services.customer_assign(customer=customers["own"], by=rep, user=rep, reason="mine")
    with pytest.raises(PermissionDenied):
        services.customer_assign(customer=customers["own"], by=accounting_user, department="accounting")
    with pytest.raises(ValidationError):
        services.customer_assign(customer=customers["own"], by=manager, department="internal")
    assert not CustomerAssignment.objects.exists()


@pytest.mark.django_db
def test_service_finds_every_caller(service_user, customers):
    assert Customer.objects.visible_to(service_user).count() == 4


@pytest.mark.django_db
def test_department_records_become_assignments_for_demo_and_migration(accounting_user, customers):
    timeline.record(
        customer=customers["own"],
        department="accounting",
        kind="invoice.issued",
        title="I",
        idempotency_key="i:2",
    )
    services.departments_assign_from_records(origin="demo")
    services.departments_assign_from_records(origin="demo")  # twice: nothing doubles
    assert list(Customer.objects.visible_to(accounting_user)) == [customers["own"]]
    assert CustomerAssignment.objects.get().origin == "demo"


@pytest.mark.django_db
def test_access_page_assigns_and_ends_assignments_for_managers_only(rep, manager, accounting_user, customers):
    target = customers["other_team"]
    url = f"/customers/{target.pk}/access/"
    assert client_for(rep).get(f"/customers/{customers['own'].pk}/access/").status_code == 403
    client = client_for(manager)
    page = client.get(url)
    assert page.status_code == 200 and "No department or person is assigned" in page.content.decode()
    response = client.post(url, {"department": "accounting", "reason": "Dunning from the ERP"})
    assert response.status_code == 302
    assert list(Customer.objects.visible_to(accounting_user)) == [target]
    text = client.get(url).content.decode()
    assert "Dunning from the ERP" in text and "Markus Hofer" in text
    assert (
        "Choose a department or a person" in client.post(url, {"reason": "nothing chosen"}).content.decode()
    )
    assignment = CustomerAssignment.objects.get()
    assert client.post(f"{url}{assignment.pk}/revoke/").status_code == 302
    assert not Customer.objects.visible_to(accounting_user).exists()
    assert "ended" in client.get(url).content.decode()


@pytest.mark.django_db
def test_managers_and_admins_see_everyone(manager, admin_user, customers):
    assert Customer.objects.visible_to(manager).count() == 4
    assert Customer.objects.visible_to(admin_user).count() == 4


@pytest.mark.django_db
def test_visibility_override_opens_everything(rep, customers, settings):
    settings.C360_VISIBILITY_OVERRIDE = "all"
    assert Customer.objects.visible_to(rep).count() == 4


@pytest.mark.django_db
def test_inactive_and_anonymous_users_see_nothing(rep, customers):
    from django.contrib.auth.models import AnonymousUser

    assert not Customer.objects.visible_to(AnonymousUser()).exists()
    rep.is_active = False
    assert not Customer.objects.visible_to(rep).exists()


@pytest.mark.django_db
def test_out_of_scope_customer_is_404_in_page_timeline_and_api(rep, customers):
    client = client_for(rep)
    hidden = customers["other_team"]
    assert client.get(f"/customers/{hidden.pk}/").status_code == 404
    assert client.get(f"/customers/{hidden.pk}/timeline/").status_code == 404
    assert client.get(f"/api/customers/{hidden.pk}/").status_code == 404
    assert client.get(f"/api/customers/{hidden.pk}/timeline/").status_code == 404
    assert client.get(f"/customers/{customers['own'].pk}/").status_code == 200


@pytest.mark.django_db
def test_restricted_audience_events_need_a_resolver_that_admits_the_user(rep, customers):
    from customer360.registry import audiences

    own = customers["own"]
    timeline.record(
        customer=own,
        department="internal",
        kind="internal.post",
        title="Internal",
        idempotency_key="p:1",
        audience="test.space:1",
    )
    assert not TimelineEvent.objects.visible_to(rep).filter(kind="internal.post").exists()
    audiences.register("test.space", lambda user: ["test.space:1"] if user.username == "rep" else [])
    try:
        next_request_user = type(rep).objects.get(pk=rep.pk)  # audiences are cached per request's user
        assert TimelineEvent.objects.visible_to(next_request_user).filter(kind="internal.post").count() == 1
    finally:
        audiences.resolvers.pop("test.space")


@pytest.mark.django_db
def test_a_customers_own_events_skip_the_second_check_only_after_get_visible(rep, customers):
    """``TimelineEvent.objects.visible_to(user, customer=...)`` checks the customer in SQL unless this
    user object (this request) has read it through ``Customer.objects.get_visible``."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for name, customer in customers.items():
        timeline.record(customer=customer, department="sales", kind="note.added", title=name,
                        idempotency_key=f"vis:{name}")  # fmt: skip
    hidden, own = customers["other_team"], customers["own"]
    assert not TimelineEvent.objects.visible_to(rep, customer=hidden).exists()
    with pytest.raises(Customer.DoesNotExist):
        Customer.objects.get_visible(rep, pk=hidden.pk)
    assert not TimelineEvent.objects.visible_to(rep, customer=hidden).exists()

    with CaptureQueriesContext(connection) as before:
        titles = list(TimelineEvent.objects.visible_to(rep, customer=own).values_list("title", flat=True))
    assert titles == ["own"]
    assert Customer.objects.get_visible(rep, pk=own.pk) == own
    with CaptureQueriesContext(connection) as after:
        titles = list(TimelineEvent.objects.visible_to(rep, customer=own).values_list("title", flat=True))
    assert titles == ["own"]
    assert "customer360_customer" in before[0]["sql"] and "customer360_customer" not in after[0]["sql"]
    # another user object (another request) checks again
    fresh = type(rep).objects.get(pk=rep.pk)
    with CaptureQueriesContext(connection) as again:
        list(TimelineEvent.objects.visible_to(fresh, customer=own))
    assert "customer360_customer" in again.captured_queries[-1]["sql"]
