"""seed_demo: deterministic for a seed, demo users per role, written through the write path."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction

from customer360.models import Customer, CustomerIdentity, TimelineEvent

TODAY = datetime.date(2026, 11, 27)


def _snapshot():
    """What a user sees (ids differ between two runs in one database, so they are left out)."""
    customers = Customer.objects.order_by("customer_number").values_list(
        "customer_number", "first_name", "last_name", "city", "lifecycle"
    )
    events = TimelineEvent.objects.values_list("customer__customer_number", "kind", "occurred_at", "title")
    return list(customers), sorted(events)


def _seed_and_snapshot(**options):
    """Seed inside a savepoint that is rolled back, so each run starts from the same empty state."""
    with transaction.atomic():
        call_command("seed_demo", **options)
        snapshot = _snapshot()
        transaction.set_rollback(True)
    return snapshot


@pytest.mark.django_db
def test_seed_demo_is_deterministic_for_a_seed():
    first = _seed_and_snapshot(customers=40, seed=7, today=TODAY.isoformat())
    second = _seed_and_snapshot(customers=40, seed=7, today=TODAY.isoformat())
    other_seed = _seed_and_snapshot(customers=40, seed=8, today=TODAY.isoformat())
    assert second == first
    assert other_seed != first
    assert len(first[0]) == 40
    assert len(first[1]) > 40 * 10  # histories across departments, not just the customers


@pytest.mark.django_db
def test_seed_demo_creates_one_login_per_role_and_the_scenario_customers():
    call_command("seed_demo", customers=20, seed=1, today=TODAY.isoformat())
    User = get_user_model()
    roles = dict(User.objects.filter(groups__isnull=False).values_list("username", "groups__name"))
    assert roles["rep"] == "Sales" and roles["manager"] == "Manager" and roles["admin"] == "Admin"
    assert (
        roles["service"] == "Service"
        and roles["accounting"] == "Accounting"
        and roles["marketing"] == "Marketing"
    )
    assert User.objects.get(username="rep").check_password("demo")
    gruber = Customer.objects.get(first_name="Franz", last_name="Gruber")
    assert gruber.city == "Wien" and gruber.owner.username == "rep"
    assert Customer.objects.filter(last_name__in=["Müller", "Mueller"], postcode="1010").count() == 2
    # Every customer is findable by its e-mail identity and has its creation on the timeline.
    assert CustomerIdentity.objects.filter(kind="email").count() == 20
    assert TimelineEvent.objects.filter(kind="customer.created").count() == 20


@pytest.mark.django_db
def test_seed_demo_if_empty_does_nothing_the_second_time():
    call_command("seed_demo", customers=10, seed=1, today=TODAY.isoformat())
    call_command("seed_demo", customers=10, seed=1, today=TODAY.isoformat(), if_empty=True)
    assert Customer.objects.count() == 10


@pytest.mark.django_db
def test_seed_demo_refuses_production_mode_without_the_flag(settings):
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="refuses to run in production mode"):
        call_command("seed_demo", customers=5)
    assert not get_user_model().objects.exists()
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_seed_demo_in_production_creates_no_staff_admin_and_no_known_password(settings):
    import io

    settings.PRODUCTION = True
    out = io.StringIO()
    call_command("seed_demo", customers=5, allow_production=True, stdout=out)
    users = get_user_model().objects.all()
    assert not users.filter(is_staff=True).exists()
    assert not users.filter(groups__name="Admin").exists()
    assert "admin" not in set(users.values_list("username", flat=True))
    rep = users.get(username="rep")
    assert not rep.check_password("demo")
    password = re.search(r"password '([^']+)'", out.getvalue()).group(1)
    assert rep.check_password(password)


@pytest.mark.django_db
def test_seed_demo_outside_production_keeps_the_demo_logins():
    call_command("seed_demo", customers=5, stdout=__import__("io").StringIO())
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.check_password("demo")


@pytest.mark.django_db
def test_seed_demo_flags_the_sla_breaches_of_its_history_each_with_its_event():
    from django.db.models import F

    from crm.models import Ticket

    call_command("seed_demo", customers=200, seed=3, today=TODAY.isoformat())
    late_reply = Ticket.objects.filter(first_response_at__gt=F("first_response_due"))
    late_solution = Ticket.objects.filter(solved_at__gt=F("resolution_due"))
    assert late_reply.exists() and late_solution.exists()
    # Flagged as the SLA check flags them (at the due time), so its first run has no history to catch up
    assert not late_reply.filter(sla_breached_first_response=False).exists()
    assert not late_solution.filter(sla_breached_resolution=False).exists()
    assert all(t.first_response_breached_at == t.first_response_due for t in late_reply)
    breaches = TimelineEvent.objects.filter(kind="ticket.sla_breached")
    by_clock = {
        sla: sorted(int(e.source_id) for e in breaches if e.payload["sla"] == sla)
        for sla in ("first_response", "resolution")
    }
    assert by_clock["first_response"] == sorted(late_reply.values_list("pk", flat=True))
    assert by_clock["resolution"] == sorted(late_solution.values_list("pk", flat=True))
