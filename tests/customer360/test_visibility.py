"""Who may see which customer: decided in Customer.objects.visible_to, enforced as 404."""

import pytest

from customer360 import timeline
from customer360.models import Customer, TimelineEvent
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
def test_other_departments_see_customers_they_have_records_with(service_user, customers):
    assert not Customer.objects.visible_to(service_user).exists()
    timeline.record(
        customer=customers["other_team"],
        department="service",
        kind="ticket.opened",
        title="Ticket opened",
        idempotency_key="t:1",
    )
    assert list(Customer.objects.visible_to(service_user)) == [customers["other_team"]]


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
