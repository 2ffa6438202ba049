"""Issue #14: the change history reads in the reader's language: field labels (the fields' verbose
names), choices by their label, dates, moments, numbers and amounts through customer360.formatting,
foreign keys by the name of what they point at."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import translation

from billing.models import Invoice
from crm.models import Deal
from customer360.audit import display, history
from tests.conftest import client_for
from tests.crm.factories import make_deal
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _change(model, values, row=None) -> history.Change:
    return history.Change(
        at=datetime.datetime(2027, 1, 13, 13, 5, tzinfo=datetime.UTC),
        label="update",
        model=model,
        object_id="1",
        user_id=None,
        path="page",
        detail="",
        values=values,
        row=row or {},
    )


def test_values_read_as_on_the_records_own_pages_in_german(rep):
    customer = CustomerFactory(first_name="Franziska", last_name="Huber")
    change = _change(
        Invoice,
        [
            ("customer_id", None, customer.pk),
            ("status", "issued", "overdue"),
            ("due_date", "2027-01-13", "2027-02-13"),
            ("net_total", "1240.00", "12345.50"),
            ("dunning_paused", False, True),
            ("created_by_id", rep.pk, None),
        ],
        row={"currency": "EUR"},
    )
    with translation.override("de"):
        (change,) = display.describe([change])
    assert change.lines == [
        ("Kunde", "–", "Franziska Huber"),
        ("Status", "Ausgestellt", "Überfällig"),
        ("Fälligkeitsdatum", "13.01.2027", "13.02.2027"),
        ("Netto", "EUR 1.240,00", "EUR 12.345,50"),
        ("Mahnsperre", "nein", "ja"),
        ("Erstellt von", "Anna Berger", "–"),
    ]


def test_moments_and_english_labels(rep):
    change = _change(Deal, [("closed_at", None, "2027-01-13T13:05:00+00:00"), ("owner_id", None, rep.pk)])
    with translation.override("en"):
        (change,) = display.describe([change])
    labels = {label: after for label, _before, after in change.lines}
    assert labels["Owner"] == "Anna Berger"
    assert labels["Closed"].startswith("13 Jan 2027, ")


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="history triggers exist on PostgreSQL only")
def test_the_history_page_in_german_shows_labels_choices_dates_and_amounts(rep):
    deal = make_deal(rep, title="Premium", amount=890, expected_close=datetime.date(2027, 3, 31))
    client = client_for(rep)
    client.post(
        f"/sales/deals/{deal.pk}/edit/",
        {"title": "Premium Plus", "amount": "1290.50", "owner": rep.pk, "expected_close": "2027-04-30"},
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal("1290.50")
    client.cookies["django_language"] = "de"
    page = client.get(f"/history/crm.deal/{deal.pk}/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Premium → Premium Plus" in page
    assert "890 → 1.290,50" in page or "890,00 → 1.290,50" in page
    assert "31.03.2027 → 30.04.2027" in page
    assert "2027-03-31" not in page and "expected_close" not in page
    assert "Offen" in page  # the deal's status by its German label, not "open"


def test_a_stored_role_name_reads_in_the_readers_language():
    """A feed post keeps its author's role as the name it had when written ("Sales"); the history
    shows it as the feed does, in the reader's language, and a role an admin added as it is."""
    from django.utils import translation

    from collab.models import Post
    from customer360.audit.display import value_text

    field = Post._meta.get_field("author_role")
    with translation.override("de"):
        assert value_text(field, "Sales", {}, {}) == "Vertrieb"
        assert value_text(field, "Field crew", {}, {}) == "Field crew"
    with translation.override("en"):
        assert value_text(field, "Sales", {}, {}) == "Sales"
