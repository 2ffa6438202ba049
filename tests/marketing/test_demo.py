"""The marketing seeder: deterministic, persona-consistent, Gruber's scenario facts."""

from datetime import date

import pytest

from customer360.demo import run_seeders
from customer360.models import Customer, TimelineEvent
from customer360.registry import brief_sources
from marketing.models import Campaign, Consent, Touch

pytestmark = pytest.mark.django_db


def _seed_and_snapshot():
    """Seed once; the marketing events by customer position (numbers differ between runs)."""
    ctx = run_seeders(count=60, seed=3, today=date(2026, 3, 1), stdout=lambda s: None, only=["marketing"])
    position = {c.id: n for n, c in enumerate(ctx.customers)}
    rows = TimelineEvent.objects.filter(department="marketing", customer_id__in=position).values_list(
        "customer_id", "kind", "occurred_at", "title"
    )
    return sorted((position[cid], kind, when, title) for cid, kind, when, title in rows)


def test_seeder_is_deterministic_and_consistent():
    first = _seed_and_snapshot()
    assert 5 <= len(first) / 60 <= 14  # ~9 marketing events per customer
    assert Campaign.objects.count() == 9
    assert Touch.objects.count() + Consent.objects.count() <= len(first)
    assert _seed_and_snapshot() == first


def test_gruber_scenario():
    run_seeders(count=20, seed=1, stdout=lambda s: None, only=["marketing"])
    gruber = Customer.objects.get(first_name="Franz", last_name="Gruber")
    consents = {(c.channel, c.purpose): c.status for c in Consent.objects.filter(customer=gruber)}
    assert consents[("phone", "offers")] == "withdrawn"
    assert Consent.objects.allows("email", "newsletter").filter(pk=gruber.pk).exists()
    texts = {i.text for i in brief_sources.items["marketing"].items(gruber, None)}
    assert "Customer does not want phone offers" in texts
    assert "Clicked the Premium newsletter twice last week" in texts
