"""The streaming seed: chunk by chunk, deterministic, and the same data as one chunk where it can be."""

import datetime

import pytest
from django.db import transaction
from django.db.models import Count

from billing.models import Invoice
from collab.models import Post
from customer360.demo import NAMED_CUSTOMERS, _chunks, run_seeders
from customer360.models import Customer, CustomerIdentity, TimelineEvent
from insights.models import Recommendation
from marketing.models import Campaign, Segment

TODAY = datetime.date(2026, 11, 27)
pytestmark = pytest.mark.django_db


def _snapshot():
    """What a user sees (ids differ between runs, so they are left out)."""
    customers = list(
        Customer.objects.order_by("customer_number").values_list(
            "customer_number", "first_name", "last_name", "city", "lifecycle", "created_at", "email"
        )
    )
    events = sorted(
        TimelineEvent.objects.values_list("customer__customer_number", "kind", "occurred_at", "title")
    )
    invoices = sorted(Invoice.objects.values_list("number", "customer__customer_number", "gross_total"))
    return customers, events, invoices


# The department seeders (what chunking changes); the readers after them score and aggregate.
WRITERS = ["sales", "service", "billing", "marketing", "collab", "insights_history"]


def _seed(customers, chunk=None):
    """Seed inside a savepoint that is rolled back, so each run starts from the same empty state."""
    options = {"chunk": chunk} if chunk else {}
    with transaction.atomic():
        run_seeders(count=customers, seed=7, today=TODAY, stdout=lambda *_: None, only=WRITERS, **options)
        snapshot = _snapshot()
        counts = {
            "posts": Post.objects.count(),
            "segments": Segment.objects.count(),
            "campaigns": Campaign.objects.count(),
            "recommendations": Recommendation.objects.count(),
        }
        transaction.set_rollback(True)
    return snapshot, counts


def test_chunks_cover_every_customer_once_and_at_least_the_named_ones():
    assert _chunks(10, 4) == [range(0, 4), range(4, 8), range(8, 10)]
    assert _chunks(10, 25_000) == [range(0, 10)]
    assert _chunks(0, 4) == [range(0, 4), range(4, len(NAMED_CUSTOMERS))]


def test_a_chunked_seed_is_deterministic_and_consistent():
    first, counts = _seed(45, chunk=20)
    second, counts_again = _seed(45, chunk=20)
    assert second == first and counts_again == counts
    unchunked, single_counts = _seed(45)
    customers, events, invoices = first
    # Every customer once, numbered without gaps across the chunks, the named ones first.
    assert [c[0] for c in customers] == [f"C-{n:06d}" for n in range(1, 46)]
    assert [(c[1], c[2]) for c in customers[:5]] == [(n[0], n[1]) for n in NAMED_CUSTOMERS]
    assert len(events) > 45 * 10  # histories across departments in every chunk
    assert sum(1 for e in events if e[1] == "customer.created") == 45
    # Rows made once per seed are not repeated per chunk; per-customer rows reach the last chunk.
    assert counts["segments"] == single_counts["segments"] == 6
    assert counts["campaigns"] == single_counts["campaigns"] == 9
    # The feed is written once, with the first chunk (its complainer post needs a complainer there).
    assert single_counts["posts"] - 1 <= counts["posts"] <= single_counts["posts"]
    # The same amount of history as in one chunk (the random draws differ after the first chunk).
    assert len(unchunked[1]) * 0.8 < len(events) < len(unchunked[1]) * 1.2
    numbers = [i[0] for i in invoices]
    assert len(numbers) == len(set(numbers))
    gruber = next(i for i in invoices if i[0].endswith("-0142"))
    assert gruber[1] == "C-000001"
    last_chunk = {c[0] for c in customers[40:]}
    assert {e[0] for e in events if e[1].startswith("invoice.")} & last_chunk


def test_run_seeders_leaves_the_last_chunk_in_the_context():
    ctx = run_seeders(count=12, seed=3, today=TODAY, stdout=lambda *_: None, only=["sales"], chunk=5)
    assert len(ctx.customers) == 2
    assert Customer.objects.count() == 12
    assert CustomerIdentity.objects.filter(kind="email").count() == 12
    per_customer = Customer.objects.annotate(n=Count("events")).filter(n=0)
    assert not per_customer.exists()
