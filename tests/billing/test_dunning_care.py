"""Dunning that reads the learned payment risk from the core: a high-risk customer gets an early
friendly reminder and a payment-plan offer instead of a fee, a reliable long-standing one a gentler
first reminder without a fee; the timeline says which and why. Scores are written as insights would."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from billing import services
from billing.models import DunningNotice
from customer360 import scores
from customer360.models import Customer, Score, TimelineEvent
from tests.billing.factories import at, make_invoice
from tests.factories import CustomerFactory, assign

ISSUED = datetime.date(2026, 1, 5)
DUE = datetime.date(2026, 1, 19)
pytestmark = pytest.mark.django_db


def run(offset: int):
    with time_machine.travel(at(DUE + datetime.timedelta(days=offset)), tick=False):
        return services.dunning_run()


def _risk(customer, value):
    Score.objects.create(
        customer=customer, kind=scores.PAYMENT_RISK, value=value, band=scores.band_of(scores.PAYMENT_RISK, value),
        model_version="payment_risk v1", computed_at=timezone.now(),
    )  # fmt: skip


@pytest.fixture
def pair(accounting_user):
    risky, reliable, unknown = (assign(c, "accounting") for c in CustomerFactory.create_batch(3))
    Customer.objects.filter(pk=reliable.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=3 * 365)
    )
    _risk(risky, 0.8)
    _risk(reliable, 0.03)
    with time_machine.travel(at(ISSUED), tick=False):
        invoices = [
            make_invoice(c, issue_date=ISSUED, due_date=DUE, actor=accounting_user)
            for c in (risky, reliable, unknown)
        ]
    return invoices


def _events(invoice, kind):
    return list(TimelineEvent.objects.filter(customer=invoice.customer, kind=kind).order_by("id"))


def test_high_and_low_payment_risk_are_dunned_differently_and_the_timeline_says_why(pair):
    risky, reliable, unknown = pair
    # One day overdue: only the high-risk customer gets a friendly reminder (no level, no fee).
    result = run(1)
    assert result.notices == {0: 1}
    early = DunningNotice.objects.get(invoice=risky)
    assert (early.level, early.fee, early.channel) == (0, Decimal("0.00"), "email")
    (reminder,) = _events(risky, "dunning.early_reminder")
    assert reminder.payload["treatment"] == "early_reminder" and reminder.payload["payment_risk"] == 80
    assert "payment risk 80 %" in reminder.summary and "before dunning" in reminder.summary
    assert run(1).notices == {}  # idempotent

    # Level 1 (no fee in the policy): the reliable long-standing customer gets the gentler tone.
    run(8)
    (gentle,) = _events(reliable, "dunning.notice")
    assert gentle.payload["treatment"] == "gentle" and gentle.payload["payment_risk"] == 3
    assert "reliable long-standing customer" in gentle.summary
    notice = DunningNotice.objects.get(invoice=reliable, level=1)
    assert "immer zuverlässig" in notice.text  # the customer's language (German)
    assert _events(unknown, "dunning.notice")[0].payload.get("treatment") == "standard"

    # Level 2 carries a fee: the high-risk customer is offered a payment plan instead.
    run(8 + 14)
    for invoice in pair:
        invoice.refresh_from_db()
    assert risky.dunning_level == reliable.dunning_level == unknown.dunning_level == 2
    assert risky.fees_total == Decimal("0.00")
    assert reliable.fees_total == unknown.fees_total == Decimal("10.00")
    plan = _events(risky, "dunning.notice")[-1]
    assert plan.payload["treatment"] == "payment_plan" and plan.payload["fee"] == "0.00"
    assert "payment plan offered instead of a fee (high payment risk), payment risk 80 %" in plan.summary
    assert "Raten" in DunningNotice.objects.get(invoice=risky, level=2).text
    standard = _events(reliable, "dunning.notice")[-1]
    assert standard.payload["treatment"] == "standard" and "payment risk" not in standard.summary
