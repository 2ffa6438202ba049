"""Declared event kinds: one declaration builds the stored event and renders it per reader."""

from __future__ import annotations

import datetime

import pytest
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from customer360 import events
from customer360.events import Field
from customer360.models import TimelineEvent

KIND = "test.sample"


@pytest.fixture
def sample():
    """A kind of this test only, declared for the test's duration: a declaration at import time
    stayed in the registry for the rest of the run, and every German 360 page of a whole-suite run
    listed its English label "Invoice overdue" in the timeline's kind filter (issue #19)."""
    declared = events.declare(
        KIND,
        department="accounting",
        label=_("Invoice overdue"),
        title=_("Invoice %(number)s overdue: level %(level)s, %(amount)s"),
        summary=_("Due %(due)s"),
        fields=[Field("number"), Field("level", "int"), Field("amount", "money"), Field("due", "date")],
        channel="letter",
        direction="outbound",
        tags={"sample"},
    )
    yield declared
    events._kinds.pop(KIND, None)


def test_payload_refuses_undeclared_and_missing_fields(sample):
    with pytest.raises(ValueError, match="undeclared"):
        sample.payload(number="R-1", level=2, amount=1, due="2027-01-13", colour="red")
    with pytest.raises(ValueError, match="lacks"):
        sample.payload(number="R-1")


@pytest.mark.django_db
def test_stored_in_english_rendered_in_the_readers_language(customer, sample):
    payload = sample.payload(
        number="R-1", level=2, amount=1240, due=datetime.date(2027, 1, 13), currency="EUR"
    )
    event, created = sample.record(customer=customer, key="test:sample:1", payload=payload)
    assert created
    stored = TimelineEvent.objects.get(pk=event.pk)
    assert stored.title == "Invoice R-1 overdue: level 2, EUR 1,240.00"
    assert (stored.department, stored.channel, stored.direction) == ("accounting", "letter", "outbound")
    with translation.override("en"):
        assert stored.display_summary == "Due 13 Jan 2027"
    with translation.override("de"):
        assert stored.display_title.endswith("EUR 1.240,00")
        assert stored.display_summary.endswith("13.01.2027")


@pytest.mark.django_db
def test_undeclared_kind_and_incomplete_payload_keep_the_stored_text(customer, sample):
    from customer360 import timeline

    custom, _ = timeline.record(
        customer=customer,
        department="sales",
        kind="shop.custom",
        title="Imported text",
        idempotency_key="t:1",
    )
    partial, _ = timeline.record(
        customer=customer,
        department="accounting",
        kind="test.sample",
        title="Old text",
        idempotency_key="t:2",
        payload={"number": "R-2"},
    )
    with translation.override("de"):
        assert custom.display_title == "Imported text"
        assert partial.display_title == "Old text"


def test_kind_sets_come_from_the_declarations(sample):
    assert "test.sample" in events.kinds(tag="sample")
    assert "test.sample" not in events.kinds(contact=True)
    assert "test.sample" in events.kinds(department="accounting")
