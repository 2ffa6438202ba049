"""Feature values checked against hand-computed ones."""

import pandas as pd
import pytest
from django.utils import timezone

from insights.features import build_features, build_features_at
from tests.factories import CustomerFactory
from tests.insights.factories import event, gruber_history, history

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


def test_gruber_features_by_hand(customer, now, stand_in_kinds):
    gruber_history(customer, now)
    row = build_features([customer.pk], now=now).loc[customer.pk]
    assert row["dunning_level"] == 2  # the newer notice of invoice 9
    assert row["overdue_amount"] == 1240.0
    assert row["overdue_invoices"] == 1
    assert row["dunning_notices_90"] == 2
    assert row["open_tickets"] == 0 and row["open_complaints"] == 0  # solved yesterday
    assert row["complaints_90"] == 1
    assert row["last_csat"] == 2 and row["days_since_csat"] == 1
    assert row["email_clicks_30"] == 2 and row["email_opens_30"] == 1
    assert row["top_campaign_30"] == "Premium newsletter"
    assert bool(row["consent_phone_offers"]) is False  # withdrawn after it was given
    assert bool(row["consent_email_offers"]) is True
    assert bool(row["has_contract"]) is True
    assert row["days_to_renewal"] == 365 - 323
    assert row["days_since_last_contact"] == 21
    assert row["days_since_last_event"] == 1
    # accounting: issued + 2 notices; service: 3; marketing within 30 days: 2 clicks, 1 open, 1 withdrawal
    assert row["accounting_90"] == 3 and row["service_30"] == 3 and row["marketing_30"] == 4
    assert row["marketing_90"] == 4 and row["sales_90"] == 1 and row["events_90"] == 11


def test_payment_closes_dunning_and_windows(now):
    c = CustomerFactory()
    history(
        event(c, "dunning.notice", "accounting", 40, now, invoice_id=1, level=1, open_amount=100.0),
        event(c, "invoice.paid", "accounting", 35, now, invoice_id=1),
        event(c, "dunning.notice", "accounting", 10, now, invoice_id=2, level=1, open_amount=50.5),
        event(c, "ticket.opened", "service", 100, now, ticket_id=5, category="question"),
        event(c, "ticket.opened", "service", 3, now, ticket_id=6, category="complaint"),
        event(c, "deal.created", "sales", 20, now, deal_id=1, stage="proposal", amount=900),
        event(c, "deal.won", "sales", 200, now, deal_id=2, stage="won", amount=1500),
        event(c, "payment.received", "accounting", 35, now, invoice_id=1, amount=100),
    )
    row = build_features([c.pk], now=now).loc[c.pk]
    assert row["dunning_level"] == 1 and row["overdue_amount"] == 50.5
    assert row["open_tickets"] == 2 and row["open_complaints"] == 1 and row["complaint_open_days"] == 3
    assert row["open_deals"] == 1 and row["deal_stage"] == "proposal" and row["deal_age_days"] == 20
    # the won deal is counted as a deal, its money when it is paid: revenue is the payment alone,
    # as on the 360 page (a won deal and the payment of its invoice are one sum, not two)
    assert row["deals_won_365"] == 1 and row["monetary_365"] == 100.0
    assert row["recency_days"] == 35 and row["frequency_365"] == 3
    assert row["events_30"] == 3 and row["events_90"] == 6


def test_training_path_equals_scoring_path(customer, now):
    """The point-in-time builder sees only events strictly before its moment, like scoring then."""
    gruber_history(customer, now)
    past = now - pd.Timedelta(days=6)
    scored = build_features([customer.pk], now=past - pd.Timedelta(microseconds=1)).loc[customer.pk]
    trained = build_features_at(pd.DataFrame({"customer_id": [customer.pk], "as_of": [past]})).iloc[0]
    for name in [
        "dunning_level",
        "open_complaints",
        "email_clicks_30",
        "events_90",
        "last_csat",
        "tenure_days",
    ]:
        assert scored[name] == trained[name] or (pd.isna(scored[name]) and pd.isna(trained[name])), name
    assert (
        trained["open_complaints"] == 1 and trained["dunning_level"] == 1 and trained["email_clicks_30"] == 0
    )


def test_department_tables_are_the_authority_on_now(customer, now):
    """Marketing's consent row (e-mail without double opt-in is not active) overrides the timeline."""
    from marketing.models import Consent

    gruber_history(customer, now)
    Consent.objects.create(
        customer=customer, channel="email", purpose="offers", status="granted", granted_at=now
    )
    Consent.objects.create(
        customer=customer, channel="sms", purpose="offers", status="granted", granted_at=now
    )
    row = build_features([customer.pk], now=now).loc[customer.pk]
    assert bool(row["consent_email_offers"]) is False  # not confirmed yet
    assert bool(row["consent_sms_offers"]) is True
