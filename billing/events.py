"""The timeline event kinds accounting records, declared once (customer360.events).

Services, imports and the demo seeder build every billing event through these declarations, so
title, payload fields, channel and direction are the same on every path. Payloads carry raw
values (amounts as decimal strings with the invoice's ``currency``, dates as ISO strings); the
title is rendered from them in the reader's language and number format.

Payload fields every kind carries: ``invoice_id`` and ``number``. Money fields: ``amount`` (what the
event is about: gross total, payment, open principal of a dunning notice), ``open_amount`` (still
owed, fees included), ``fee``.

Tags (agreed in customer360/events.py): ``invoice`` and ``invoice_closed`` for the steps of an
invoice's status, ``payment``, ``revenue``, ``dunning``, ``state``.
"""

from __future__ import annotations

from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from customer360 import events
from customer360.events import Field
from customer360.models import Channel, Department, Direction

INVOICE = (Field("invoice_id", "int"), Field("number"))

#: How a notice went out, in the summary's words ("... by letter").
NOTICE_CHANNELS = {
    "email": pgettext_lazy("sent by", "e-mail"),
    "letter": pgettext_lazy("sent by", "letter"),
}


def notice_channel(value) -> str:
    return str(NOTICE_CHANNELS.get(value, value or ""))


INVOICE_ISSUED = events.declare(
    "invoice.issued",
    department=Department.ACCOUNTING,
    channel=Channel.EMAIL,
    direction=Direction.OUTBOUND,
    tags={"invoice"},
    label=_("Invoice issued"),
    fields=[*INVOICE, Field("amount", "money"), Field("due_date", "date")],
    title=_("Invoice %(number)s issued: %(amount)s, due %(due_date)s"),
)

INVOICE_PAID = events.declare(
    "invoice.paid",
    department=Department.ACCOUNTING,
    channel=Channel.OTHER,
    direction=Direction.INBOUND,
    tags={"invoice", "invoice_closed", "payment", "state"},
    label=_("Invoice paid"),
    fields=[*INVOICE, Field("amount", "money"), Field("due_date", "date")],
    title=_("Invoice %(number)s paid: %(amount)s"),
)

INVOICE_CANCELLED = events.declare(
    "invoice.cancelled",
    department=Department.ACCOUNTING,
    channel=Channel.INTERNAL,
    direction=Direction.INTERNAL,
    tags={"invoice", "invoice_closed", "state"},
    label=_("Invoice cancelled"),
    fields=INVOICE,
    title=_("Invoice %(number)s cancelled"),
)

INVOICE_DISPUTED = events.declare(
    "invoice.disputed",
    department=Department.ACCOUNTING,
    channel=Channel.INTERNAL,
    direction=Direction.INBOUND,
    tags={"invoice"},
    label=_("Invoice disputed"),
    fields=INVOICE,
    title=_("Invoice %(number)s disputed: dunning stopped"),
)

INVOICE_DISPUTE_RESOLVED = events.declare(
    "invoice.dispute_resolved",
    department=Department.ACCOUNTING,
    channel=Channel.INTERNAL,
    direction=Direction.INTERNAL,
    tags={"invoice"},
    label=_("Invoice dispute resolved"),
    fields=INVOICE,
    title=_("Dispute about invoice %(number)s resolved"),
)

PAID_IN_FULL = _("Payment %(amount)s received: invoice %(number)s paid in full")
STILL_OPEN = _("Payment %(amount)s received: invoice %(number)s, %(open_amount)s still open")

PAYMENT_RECEIVED = events.declare(
    "payment.received",
    department=Department.ACCOUNTING,
    channel=Channel.OTHER,
    direction=Direction.INBOUND,
    tags={"payment", "revenue", "state"},
    label=_("Payment received"),
    fields=[
        *INVOICE,
        Field("payment_id", "int"),
        Field("amount", "money"),
        Field("open_amount", "money"),
        Field("paid_in_full"),
        Field("dunning_level", "int"),
    ],
    title=lambda payload: PAID_IN_FULL if payload.get("paid_in_full") else STILL_OPEN,
)

PAYMENT_PROMISED = events.declare(
    "payment.promised",
    department=Department.ACCOUNTING,
    channel=Channel.INTERNAL,
    direction=Direction.INBOUND,
    label=_("Payment promised"),
    fields=[*INVOICE, Field("promised_date", "date"), Field("open_amount", "money")],
    title=_("Payment of invoice %(number)s promised by %(promised_date)s (%(open_amount)s)"),
)

PAUSED_UNTIL = _("Dunning of invoice %(number)s paused until %(until)s")
PAUSED = _("Dunning of invoice %(number)s paused")

DUNNING_PAUSED = events.declare(
    "dunning.paused",
    department=Department.ACCOUNTING,
    channel=Channel.INTERNAL,
    direction=Direction.INTERNAL,
    label=_("Dunning paused"),
    fields=[*INVOICE, Field("until", "date"), Field("level", "int")],
    title=lambda payload: PAUSED_UNTIL if payload.get("until") else PAUSED,
)

DUNNING_RESUMED = events.declare(
    "dunning.resumed",
    department=Department.ACCOUNTING,
    channel=Channel.INTERNAL,
    direction=Direction.INTERNAL,
    label=_("Dunning resumed"),
    fields=[*INVOICE, Field("level", "int")],
    title=_("Dunning of invoice %(number)s resumed"),
)

#: How a dunning step was taken for this customer (billing.dunning_care), in the reader's words.
TREATMENTS = {
    "standard": _("as the policy says"),
    "payment_plan": _("payment plan offered instead of a fee (high payment risk)"),
    "gentle": _("no fee and a gentler tone (reliable long-standing customer)"),
    "early_reminder": _("friendly reminder before dunning (high payment risk)"),
}


def treatment(value) -> str:
    return str(TREATMENTS.get(value, value or ""))


def _percent(value) -> str:
    return "–" if value is None else f"{value} %"


#: Why a step was taken as it was: the treatment and the learned payment risk (percent) it rests on.
#: Optional: notices written before risk-aware dunning (and the demo's history) carry neither.
CARE = (Field("treatment", treatment, required=False), Field("payment_risk", _percent, required=False))

#: A notice's fields: ``amount`` is the open principal it quotes (fees named apart), ``open_amount``
#: everything still owed after its fee; ``level_name`` is the policy's own name of the level.
NOTICE = (
    *INVOICE,
    Field("level", "int"),
    Field("amount", "money"),
    Field("open_amount", "money"),
    Field("fee", "money"),
    Field("level_name", gettext),  # seeded level names are translation keys (SEEDED_LEVEL_NAMES)
    Field("notice_channel", notice_channel),
    Field("days_overdue", "int"),
    *CARE,
)
NOTICE_SUMMARY = _("%(level_name)s by %(notice_channel)s, fee %(fee)s")
NOTICE_CARE_SUMMARY = _(
    "%(level_name)s by %(notice_channel)s, fee %(fee)s: %(treatment)s, payment risk %(payment_risk)s"
)


def notice_summary(payload: dict):
    """The standard summary, or the one that says why this customer's step differs."""
    cared = payload.get("treatment") not in (None, "", "standard")
    return NOTICE_CARE_SUMMARY if cared else NOTICE_SUMMARY


DUNNING_NOTICE = events.declare(
    "dunning.notice",
    department=Department.ACCOUNTING,
    channel=Channel.LETTER,
    direction=Direction.OUTBOUND,
    tags={"dunning", "state"},
    label=_("Dunning notice"),
    fields=NOTICE,
    title=_("Invoice %(number)s overdue: level %(level)s, %(amount)s"),
    summary=notice_summary,
)

DUNNING_HANDED_OVER = events.declare(
    "dunning.handed_over",
    department=Department.ACCOUNTING,
    channel=Channel.LETTER,
    direction=Direction.OUTBOUND,
    tags={"dunning"},
    label=_("Handed over to collection"),
    fields=NOTICE,
    title=_("Invoice %(number)s handed over to collection: level %(level)s, %(amount)s"),
    summary=notice_summary,
)

DUNNING_EARLY_REMINDER = events.declare(
    "dunning.early_reminder",
    department=Department.ACCOUNTING,
    channel=Channel.EMAIL,
    direction=Direction.OUTBOUND,
    tags={"reminder"},
    label=_("Friendly payment reminder"),
    fields=[*INVOICE, Field("amount", "money"), Field("days_overdue", "int"), *CARE],
    title=_("Invoice %(number)s: friendly reminder, %(amount)s open"),
    summary=_("Before dunning, without a fee: %(treatment)s, payment risk %(payment_risk)s"),
)


def invoice_fields(invoice) -> dict:
    """The fields every billing event carries, plus the invoice's currency for its money fields."""
    return {"invoice_id": invoice.pk, "number": invoice.number, "currency": invoice.currency}
