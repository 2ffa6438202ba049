"""Dunning that reads the learned payment risk: the same policy, taken differently per customer.

The payment risk is learned from the company's own invoices and payments (insights writes it into
the core's score table); billing reads it from the core (``customer360.scores``) and never imports
insights. The decisions, each said on the timeline with the risk behind it:

* high payment risk: a friendly reminder ``EARLY_REMINDER_DAYS`` after the due date (before the
  first dunning level), and at a level with a fee a payment plan is offered instead of the fee;
* low payment risk and a customer for at least ``LOYAL_DAYS``: the first reminder comes without a
  fee and in a gentler tone;
* no score (nothing learned yet) or medium risk: the policy as written.

A hand-over to collection is never softened: it is a decision people took when writing the policy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from billing import events
from billing.models import (
    ZERO,
    DunningChannel,
    DunningLevel,
    DunningNotice,
    Invoice,
    format_date,
    format_money,
)
from customer360 import scores, timeline
from customer360.models import Customer

EARLY_REMINDER_DAYS = 1
LOYAL_DAYS = 730
EARLY_LEVEL = 0  # the friendly reminder's notice: before level 1, it leaves the invoice's level as it is


class Treatment:
    """The treatments (their words for people: ``billing.events.TREATMENTS``)."""

    STANDARD = "standard"
    PAYMENT_PLAN = "payment_plan"
    GENTLE = "gentle"
    EARLY = "early_reminder"


@dataclass(frozen=True)
class Decision:
    """How one dunning step is taken: the treatment, the fee charged and the risk it rests on."""

    treatment: str
    fee: Decimal
    risk: float | None = None

    @property
    def risk_percent(self) -> int | None:
        return None if self.risk is None else round(self.risk * 100)

    def payload(self) -> dict:
        """The notice event's fields that say why (billing.events NOTICE)."""
        return {"treatment": self.treatment, "payment_risk": self.risk_percent}


def decide(*, customer_id: int, level: DunningLevel, today: date | None = None) -> Decision:
    """The treatment of ``level`` for this customer, from the payment risk the core publishes."""
    score = scores.score_for(customer_id, scores.PAYMENT_RISK)
    if score is None or level.hands_over:
        return Decision(Treatment.STANDARD, level.fee, score.value if score else None)
    if score.band == "high" and level.fee > ZERO:
        return Decision(Treatment.PAYMENT_PLAN, ZERO, score.value)
    if score.band == "low" and level.level == 1:
        since = (today or timezone.localdate()) - timedelta(days=LOYAL_DAYS)
        if Customer.objects.filter(pk=customer_id, created_at__date__lte=since).exists():
            return Decision(Treatment.GENTLE, ZERO, score.value)
    return Decision(Treatment.STANDARD, level.fee, score.value)


def decision_for(*, invoice_id: int, level: DunningLevel, today: date) -> Decision:
    """:func:`decide` for the customer of an invoice (the standard when the invoice is gone)."""
    customer_id = Invoice.objects.filter(pk=invoice_id).values_list("customer_id", flat=True).first()
    if customer_id is None:
        return Decision(Treatment.STANDARD, level.fee)
    return decide(customer_id=customer_id, level=level, today=today)


def closing_words(decision: Decision, language: str) -> str:
    """What the notice adds for the treatment, in the customer's language ("" for the standard)."""
    with translation.override(language):
        if decision.treatment == Treatment.PAYMENT_PLAN:
            return gettext(
                "If paying the whole amount at once is difficult, we can agree on instalments: just reply "
                "to this letter. No fee is charged for this reminder."
            )
        if decision.treatment == Treatment.GENTLE:
            return gettext(
                "You have always paid reliably, so this has probably just slipped through. No fee is "
                "charged for this reminder."
            )
    return ""


def notice_text(level: DunningLevel, invoice: Invoice, decision: Decision, language: str) -> str:
    """The level's text with the fee actually charged, and the treatment's closing words."""
    shown = copy.copy(level)
    shown.fee = decision.fee
    words = closing_words(decision, language)
    text = shown.render(invoice, language)
    return f"{text}\n\n{words}" if words else text


def early_reminder_text(invoice: Invoice, language: str) -> str:
    with translation.override(language):
        return gettext(
            "Friendly reminder: invoice %(number)s of %(amount)s was due on %(due)s. If you have paid it "
            "already, please ignore this message; if something is unclear, just reply."
        ) % {
            "number": invoice.number,
            "amount": format_money(invoice.open_amount, invoice.currency, language),
            "due": format_date(invoice.due_date, language),
        }


def early_reminders(*, today: date) -> list[int]:
    """Friendly reminders for overdue invoices of customers with a high payment risk, one per invoice
    (the notice at level 0 is the claim); returns the new notices' ids."""
    due_by = today - timedelta(days=EARLY_REMINDER_DAYS)
    candidates = Invoice.objects.filter(
        status=Invoice.Status.OVERDUE, dunning_level=0, due_date__lte=due_by, disputed=False
    ).exclude(notices__level=EARLY_LEVEL)
    risky = scores.matching(scores.PAYMENT_RISK, "gte", scores.BANDS[scores.PAYMENT_RISK][1])
    ids = list(
        candidates.filter(customer__in=Customer.objects.filter(risky))
        .order_by("id")
        .values_list("id", flat=True)
    )
    return [notice for notice in (_early_reminder(invoice_id, today) for invoice_id in ids) if notice]


@transaction.atomic
def _early_reminder(invoice_id: int, today: date) -> int | None:
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice_id)
    score = scores.score_for(invoice.customer_id, scores.PAYMENT_RISK)
    language = invoice.customer.preferred_language or "de"
    try:
        with transaction.atomic():
            notice = DunningNotice.objects.create(
                invoice=invoice, level=EARLY_LEVEL, fee=ZERO, channel=DunningChannel.EMAIL, language=language,
                text=early_reminder_text(invoice, language), open_amount=invoice.open_amount,
            )  # fmt: skip
    except IntegrityError:  # another run sent it
        return None
    decision = Decision(Treatment.EARLY, ZERO, score.value if score else None)
    events.DUNNING_EARLY_REMINDER.record(
        customer=invoice.customer_id,
        key=timeline.idempotency_key("billing.invoice", invoice.pk, "early_reminder"),
        payload=events.DUNNING_EARLY_REMINDER.payload(
            **events.invoice_fields(invoice),
            amount=invoice.open_amount,
            days_overdue=invoice.days_overdue(today),
            **decision.payload(),
        ),
        actor_label="Billing",
        source=invoice,
    )
    return notice.pk
