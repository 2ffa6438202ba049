"""The one write path: idempotent, announces changes after commit, safe under concurrency."""

import threading

import pytest
from django.db import connection, transaction

from customer360 import timeline
from customer360.models import TimelineEvent
from tests.factories import CustomerFactory


def _record(customer, key="test:1", **extra):
    return timeline.record(
        customer=customer,
        department="sales",
        kind="call.logged",
        title="Call logged",
        idempotency_key=key,
        **extra,
    )


@pytest.mark.django_db
def test_record_twice_with_same_key_returns_the_first_event(customer):
    first, created_first = _record(customer, summary="first")
    second, created_second = _record(customer, summary="second")
    assert (created_first, created_second) == (True, False)
    assert second.pk == first.pk
    assert second.summary == "first"
    assert TimelineEvent.objects.filter(customer=customer).count() == 1


@pytest.mark.django_db
def test_duplicate_inside_an_outer_transaction_keeps_the_transaction_usable(customer):
    with transaction.atomic():
        _record(customer)
        _record(customer)
        _record(customer, key="test:2")
    assert TimelineEvent.objects.filter(customer=customer).count() == 2


@pytest.mark.django_db
def test_record_requires_a_key(customer):
    with pytest.raises(ValueError, match="idempotency key"):
        _record(customer, key="")


@pytest.mark.django_db
def test_customer_changed_is_sent_after_commit_only(customer, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, customer_ids, **kwargs):
        received.append(customer_ids)

    timeline.customer_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            _record(customer)
        assert received == []
        for callback in callbacks:
            callback()
        assert received == [[customer.pk]]
        # A duplicate announces nothing: nothing changed.
        with django_capture_on_commit_callbacks(execute=True):
            _record(customer)
        assert received == [[customer.pk]]
    finally:
        timeline.customer_changed.disconnect(receiver)


@pytest.mark.django_db
def test_record_many_skips_existing_keys_and_counts_new_rows(customer):
    other = CustomerFactory()
    events = [
        timeline.EventData(
            customer_id=c.pk,
            department="marketing",
            kind="email.opened",
            title="Newsletter opened",
            idempotency_key=f"bulk:{c.pk}:{i}",
        )
        for c in (customer, other)
        for i in range(3)
    ]
    assert timeline.record_many(events) == 6
    assert timeline.record_many(events) == 0
    assert TimelineEvent.objects.count() == 6


@pytest.mark.django_db
def test_event_links_back_to_its_source(customer):
    event, _ = _record(customer, source=customer)
    assert event.source_url == customer.get_absolute_url()
    assert event.source_id == str(customer.pk)


@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_with_one_key_produce_one_row_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is decided by PostgreSQL's unique index; SQLite serialises writers")
    customer = CustomerFactory()
    barrier = threading.Barrier(8)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            with transaction.atomic():
                results.append(_record(customer, key="race:1"))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert TimelineEvent.objects.filter(idempotency_key="race:1").count() == 1
    assert sum(created for _, created in results) == 1
    assert len({event.pk for event, _ in results}) == 1


@pytest.mark.django_db
def test_an_events_source_type_is_set_to_null_when_its_content_type_goes():
    """The events' content type has no constraint in the database (a trigger call per inserted
    event saved); Django still sets the events' source type to NULL when a content type is deleted."""
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    stale = ContentType.objects.create(app_label="gone", model="oldsource")
    event = TimelineEvent.objects.create(
        customer=CustomerFactory(), department="sales", kind="note.added", title="From an old source",
        idempotency_key="stale-source-1", source_type=stale, source_id="7", occurred_at=timezone.now(),
    )  # fmt: skip
    stale.delete()
    event.refresh_from_db()
    assert event.source_type_id is None and event.source_id == "7"
