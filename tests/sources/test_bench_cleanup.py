"""The benchmark removes what its imports wrote (customer360.sources.bench.remove_bench_sources): the
customers its sources created, with their events and identities, and the sources themselves. The
customers it did not create stay, with everything they have, also when a bench source named one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customer360 import timeline
from customer360.models import Customer, CustomerIdentity, DataSource, TimelineEvent
from customer360.sources.bench import bench_api, remove_bench_sources
from customer360.sources.models import DuplicateCandidate
from tests.factories import CustomerFactory
from tests.sources.factories import DataSourceFactory

pytestmark = pytest.mark.django_db


def _note(customer, key):
    timeline.record(
        customer=customer, department="sales", kind="note.added", title="Called", idempotency_key=key
    )


def test_the_bench_sources_go_with_the_customers_they_created_and_nothing_else():
    kept = CustomerFactory(last_name="Gruber")
    _note(kept, "test:kept")
    users_source = DataSourceFactory(slug="bench-tools", kind="api", target="events", department="sales")
    CustomerIdentity.objects.create(customer=kept, kind="external_id", source=users_source.slug, value="g1")

    figures = bench_api(requests=2, rows=30, customers=7)

    assert figures["api_events"] == 60
    source = DataSource.objects.get(slug__startswith="bench-api-")
    created = set(
        Customer.objects.filter(identities__source=source.slug).values_list("pk", flat=True).distinct()
    )
    assert len(created) == 8  # c0 ... c6 and the warm-up record's customer
    # A customer the demo had before the benchmark, which a bench source also named, is not its own.
    older = CustomerFactory(last_name="Huber")
    Customer.objects.filter(pk=older.pk).update(created_at=source.created_at - timedelta(days=1))
    CustomerIdentity.objects.create(customer=older, kind="external_id", source=source.slug, value="old")
    DuplicateCandidate.objects.create(customer_a_id=kept.pk, customer_b_id=min(created), score=0.9)

    removed = remove_bench_sources()

    assert removed == {"sources": 1, "customers": 8}
    assert not Customer.objects.filter(pk__in=created).exists()
    assert not TimelineEvent.objects.filter(customer_id__in=created).exists()
    assert not CustomerIdentity.objects.filter(customer_id__in=created).exists()
    assert not DuplicateCandidate.objects.exists()
    assert not DataSource.objects.filter(pk=source.pk).exists()
    assert set(Customer.objects.values_list("last_name", flat=True)) == {"Gruber", "Huber"}
    assert TimelineEvent.objects.filter(customer=kept).count() == 1
    assert DataSource.objects.filter(slug="bench-tools").exists()
    assert remove_bench_sources() == {"sources": 0, "customers": 0}


def test_a_source_is_the_benchmarks_only_by_its_generated_name():
    for slug in ("bench-api-1a2b3c", "bench-retail-00ff00", "bench-large-abcdef"):
        DataSourceFactory(slug=slug, kind="api", target="events", department="sales")
    for slug in ("bench-api", "bench-api-1a2b3c4", "my-bench-api-1a2b3c", "bench-crm-1a2b3c"):
        DataSourceFactory(slug=slug, kind="api", target="events", department="sales")
    customer = CustomerFactory(last_name="Beran")
    CustomerIdentity.objects.create(
        customer=customer, kind="external_id", source="bench-api-1a2b3c", value="b"
    )
    Customer.objects.filter(pk=customer.pk).update(created_at=timezone.now() + timedelta(seconds=5))

    assert remove_bench_sources() == {"sources": 3, "customers": 1}
    assert sorted(DataSource.objects.values_list("slug", flat=True)) == [
        "bench-api",
        "bench-api-1a2b3c4",
        "bench-crm-1a2b3c",
        "my-bench-api-1a2b3c",
    ]
