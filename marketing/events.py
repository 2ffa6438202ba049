"""The timeline event kinds marketing records, declared once (customer360.events).

Consent changes (``consent.given``, ``consent.withdrawn``) and campaign touches: one kind per
channel and touch status (``email.opened``, ``phone.converted`` ...), as the timeline has always
named them. Services, the touch import and the demo seeder build every marketing event through
:func:`touch_event` / the consent declarations, so title, payload, channel and direction agree on
every path. Payloads hold raw choice values (channel, purpose, method, campaign name); titles render
them in the reader's language ("Consent withdrawn: phone offers" / "Einwilligung widerrufen:
Telefon-Angebote").

Tags (agreed in customer360/events.py): ``consent`` and ``state`` on the consent kinds; ``touch``
and the touch's status (``"opened"``, ``"clicked"`` ...) on every touch kind.
"""

from __future__ import annotations

import dataclasses

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customer360 import events, timeline
from customer360.events import EventKind, Field
from customer360.models import Department, Direction
from marketing.models import Consent, ConsentChannel, Touch

# The words of "e-mail newsletter" / "phone offers"; German joins them ("Telefon-Angebote") in the
# title's translation.
CHANNEL_WORDS = {
    "email": pgettext_lazy("consent for", "e-mail"),
    "phone": pgettext_lazy("consent for", "phone"),
    "letter": pgettext_lazy("consent for", "letter"),
    "sms": pgettext_lazy("consent for", "SMS"),
}
PURPOSE_WORDS = {
    "newsletter": pgettext_lazy("consent for", "newsletter"),
    "offers": pgettext_lazy("consent for", "offers"),
    "surveys": pgettext_lazy("consent for", "surveys"),
}


def channel_word(value) -> str:
    return str(CHANNEL_WORDS.get(value, value or ""))


def purpose_word(value) -> str:
    return str(PURPOSE_WORDS.get(value, value or ""))


def method_label(value) -> str:
    return str(dict(Consent.Method.choices).get(value, value or ""))


# --- consent ---------------------------------------------------------------------------------------
CONSENT = (Field("channel", channel_word), Field("purpose", purpose_word), Field("status"))

#: ``step`` of a consent.given event: which of the three ways of giving it.
REQUESTED, GIVEN, CONFIRMED = "requested", "given", "confirmed"
CONSENT_TITLES = {
    REQUESTED: _("Consent requested: %(channel)s %(purpose)s (awaiting e-mail confirmation)"),
    GIVEN: _("Consent given: %(channel)s %(purpose)s (%(method)s)"),
    CONFIRMED: _("Consent confirmed: %(channel)s %(purpose)s (double opt-in)"),
}

CONSENT_GIVEN = events.declare(
    "consent.given",
    department=Department.MARKETING,
    channel="other",  # the consent's channel, given per event
    direction=Direction.INBOUND,
    tags={"consent", "state"},
    label=_("Consent given"),
    fields=[*CONSENT, Field("method", method_label), Field("step")],
    title=lambda payload: CONSENT_TITLES.get(payload.get("step"), CONSENT_TITLES[GIVEN]),
)

CONSENT_WITHDRAWN = events.declare(
    "consent.withdrawn",
    department=Department.MARKETING,
    channel="other",
    direction=Direction.INBOUND,
    tags={"consent", "state"},
    label=_("Consent withdrawn"),
    fields=CONSENT,
    title=_("Consent withdrawn: %(channel)s %(purpose)s"),
)


def consent_step(new_status: str, old_status: str) -> str:
    """How a grant happened: requested (pending e-mail), confirmed (pending -> granted) or given."""
    if new_status == Consent.Status.PENDING:
        return REQUESTED
    return CONFIRMED if old_status == Consent.Status.PENDING else GIVEN


def consent_values(consent: Consent, old_status: str) -> tuple[EventKind, dict]:
    """The declaration and payload of a consent change to ``consent.status`` (services and demo)."""
    values = {"channel": consent.channel, "purpose": consent.purpose, "status": consent.status}
    if consent.status == Consent.Status.WITHDRAWN:
        return CONSENT_WITHDRAWN, values
    values.update(method=consent.method, step=consent_step(consent.status, old_status))
    return CONSENT_GIVEN, values


# --- touches ---------------------------------------------------------------------------------------
INBOUND_STATUSES = {
    Touch.Status.OPENED,
    Touch.Status.CLICKED,
    Touch.Status.CONVERTED,
    Touch.Status.UNSUBSCRIBED,
}
TOUCH_TITLES = {
    Touch.Status.SENT: _('Sent "%(campaign)s" (%(channel)s)'),
    Touch.Status.DELIVERED: _('Delivered "%(campaign)s" (%(channel)s)'),
    Touch.Status.OPENED: _('Opened "%(campaign)s" (%(channel)s)'),
    Touch.Status.CLICKED: _('Clicked "%(campaign)s" (%(channel)s)'),
    Touch.Status.CONVERTED: _('Converted on "%(campaign)s" (%(channel)s)'),
    Touch.Status.BOUNCED: _('Bounced: "%(campaign)s" (%(channel)s)'),
    Touch.Status.UNSUBSCRIBED: _('Unsubscribed from "%(campaign)s" (%(channel)s)'),
}
TOUCH_FIELDS = (
    Field("campaign_id", "int"),
    Field("campaign"),
    Field("purpose", purpose_word),
    Field("channel", channel_word),
)

#: (channel, status) -> the declaration of "<channel>.<status>".
TOUCHES: dict[tuple[str, str], EventKind] = {
    (channel, status): events.declare(
        f"{channel}.{status}",
        department=Department.MARKETING,
        channel=channel,
        direction=Direction.INBOUND if status in INBOUND_STATUSES else Direction.OUTBOUND,
        tags={"touch", status},
        label=format_lazy("{}: {}", channel_label, status_label),
        fields=TOUCH_FIELDS,
        title=TOUCH_TITLES[status],
    )
    for channel, channel_label in ConsentChannel.choices
    for status, status_label in Touch.Status.choices
}


def touch_key(campaign_id: int, customer_id: int, status: str, external_id: str) -> str:
    """The idempotency key of a touch's event: the touch's own unique key (webhook, file and the
    service's call for one report give the same key, so it counts once)."""
    return timeline.idempotency_key("marketing.touch", campaign_id, customer_id, status, external_id)


def touch_template(campaign, status: str, **extra) -> timeline.EventData:
    """The event of a ``status`` touch of ``campaign`` without its customer: services, imports and
    the demo build it once per campaign and status and copy it per customer (:func:`touch_event`),
    which keeps a launch to 100,000 customers cheap."""
    kind = TOUCHES[(campaign.channel, status)]
    payload = kind.payload(
        campaign_id=campaign.pk, campaign=campaign.name, purpose=campaign.purpose, channel=campaign.channel
    )
    return kind.event(
        customer_id=0,
        key="",
        payload=payload,
        source_id=str(campaign.pk),
        source_url=campaign.get_absolute_url(),
        **extra,
    )


def touch_event(
    template: timeline.EventData, *, customer_id: int, campaign_id: int, external_id: str = "", **extra
) -> timeline.EventData:
    """``template``'s event for one customer's touch."""
    status = template.kind.split(".", 1)[1]
    unknown = extra.keys() - _EVENT_FIELDS
    if unknown:
        raise TypeError(f"EventData has no fields {sorted(unknown)}")
    # A shallow copy with its own payload: what dataclasses.replace gives, without calling
    # __init__ again (campaigns write one event per recipient and step); copying the attributes
    # directly costs a fraction of copy.copy.
    event = _new_event(timeline.EventData)
    event.__dict__.update(template.__dict__)
    event.customer_id = customer_id
    event.idempotency_key = touch_key(campaign_id, customer_id, status, external_id)
    event.payload = dict(template.payload)
    for name, value in extra.items():
        setattr(event, name, value)
    return event


_EVENT_FIELDS = frozenset(f.name for f in dataclasses.fields(timeline.EventData))
_new_event = object.__new__
