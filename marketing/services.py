"""Marketing workflows: consent changes, campaign lifecycle, touches. Each writes the timeline.

Every action writes its own rows and exactly one timeline event per change, in one transaction;
a retried action finds the state already reached (or the same idempotency key) and adds nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from customer360 import timeline
from customer360.models import Customer
from marketing import events
from marketing.models import Campaign, Consent, ConsentChange, ConsentChannel, Purpose, Segment, Touch

CHANNEL_WORDS = {"email": "e-mail", "phone": "phone", "letter": "letter", "sms": "SMS"}


def consent_words(channel: str, purpose: str) -> str:
    """E.g. "e-mail newsletter", "phone offers" (for messages; events render their own words)."""
    return f"{CHANNEL_WORDS.get(channel, channel)} {purpose}"


def _check_choice(field: str, value: str, choices) -> None:
    if value not in choices:
        raise ValidationError({field: _("Unknown %(field)s %(value)r.") % {"field": field, "value": value}})


# --- Consent ---------------------------------------------------------------------------------------
def _locked_consent(customer: Customer, channel: str, purpose: str) -> Consent:
    _check_choice("channel", channel, ConsentChannel.values)
    _check_choice("purpose", purpose, Purpose.values)
    consent, _created = Consent.objects.select_for_update().get_or_create(
        customer=customer, channel=channel, purpose=purpose, defaults={"status": ""}
    )
    return consent


def _record_consent_change(
    *, consent: Consent, old_status: str, actor, when: datetime, reason: str = ""
) -> ConsentChange:
    consent.updated_at = when
    consent.save()
    change = ConsentChange.objects.create(
        consent=consent,
        changed_at=when,
        changed_by=actor if getattr(actor, "is_authenticated", False) else None,
        old_status=old_status,
        new_status=consent.status,
        method=consent.method,
        source=consent.source,
        wording_version=consent.wording_version,
        reason=reason,
    )
    kind, values = events.consent_values(consent, old_status)
    kind.record(
        customer=consent.customer_id,
        key=timeline.idempotency_key("marketing.consent", consent.pk, "change", change.pk),
        payload=kind.payload(**values),
        occurred_at=when,
        channel=consent.channel,
        actor=actor,
        source=consent,
    )
    return change


def consent_grant(
    *,
    customer: Customer,
    channel: str,
    purpose: str,
    method: str,
    source: str = "",
    wording_version: str = "",
    confirmed: bool = False,
    actor=None,
    occurred_at: datetime | None = None,
) -> Consent:
    """Record a grant with its proof; e-mail stays *pending* until the double opt-in is confirmed.

    ``confirmed=True`` records an e-mail grant whose double opt-in happened elsewhere (an import
    with proof). Granting what is already granted changes nothing and writes no event.
    """
    _check_choice("method", method, Consent.Method.values)
    when = occurred_at or timezone.now()
    needs_opt_in = channel == ConsentChannel.EMAIL and not confirmed
    with transaction.atomic():
        consent = _locked_consent(customer, channel, purpose)
        if consent.is_active or (needs_opt_in and consent.status == Consent.Status.PENDING):
            return consent
        old = consent.status
        consent.status = Consent.Status.PENDING if needs_opt_in else Consent.Status.GRANTED
        consent.granted_at = when
        consent.confirmed_at = when if channel == ConsentChannel.EMAIL and confirmed else None
        consent.method, consent.source, consent.wording_version = method, source[:200], wording_version[:40]
        consent.withdrawn_at, consent.withdrawal_reason = None, ""
        _record_consent_change(consent=consent, old_status=old, actor=actor, when=when)
    return consent


def consent_confirm(*, consent: Consent, actor=None, occurred_at: datetime | None = None) -> Consent:
    """Confirm an e-mail double opt-in (the customer clicked the link); idempotent."""
    when = occurred_at or timezone.now()
    with transaction.atomic():
        consent = Consent.objects.select_for_update().get(pk=consent.pk)
        if consent.is_active:
            return consent
        if consent.status != Consent.Status.PENDING:
            raise ValidationError(
                {
                    "status": _("Only a pending consent can be confirmed; this one is %(status)s.")
                    % {"status": consent.get_status_display()}
                }
            )
        old = consent.status
        consent.status = Consent.Status.GRANTED
        consent.confirmed_at = when
        _record_consent_change(consent=consent, old_status=old, actor=actor, when=when)
    return consent


def consent_withdraw(
    *,
    customer: Customer,
    channel: str,
    purpose: str,
    reason: str = "",
    method: str = "",
    source: str = "",
    actor=None,
    occurred_at: datetime | None = None,
) -> Consent:
    """Record that the customer does not (or no longer) want this contact; idempotent.

    A withdrawal without an earlier grant is recorded too: "does not want phone offers" is a fact.
    The proof of the earlier grant stays in the consent's history.
    """
    if method:
        _check_choice("method", method, Consent.Method.values)
    when = occurred_at or timezone.now()
    with transaction.atomic():
        consent = _locked_consent(customer, channel, purpose)
        if consent.status == Consent.Status.WITHDRAWN:
            return consent
        old = consent.status
        consent.status = Consent.Status.WITHDRAWN
        consent.withdrawn_at = when
        consent.withdrawal_reason = reason[:200]
        if method:
            consent.method = method
        if source:
            consent.source = source[:200]
        _record_consent_change(consent=consent, old_status=old, actor=actor, when=when, reason=reason[:200])
    return consent


# --- Campaigns -------------------------------------------------------------------------------------
def campaign_audience(campaign: Campaign) -> QuerySet:
    """The customers a campaign may reach now: the segment's members who allow its channel+purpose.

    Without a segment the audience is everybody who allows the contact.
    """
    allowed = Consent.objects.allows(campaign.channel, campaign.purpose)
    if campaign.audience_id is None:
        return allowed
    return campaign.audience.members().filter(pk__in=allowed.values("pk"))


def campaign_create(
    *,
    name: str,
    channel: str,
    purpose: str,
    audience: Segment | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    description: str = "",
    actor=None,
) -> Campaign:
    """A new draft campaign."""
    _check_choice("channel", channel, ConsentChannel.values)
    _check_choice("purpose", purpose, Purpose.values)
    if starts_at and ends_at and ends_at < starts_at:
        raise ValidationError({"ends_at": _("The end lies before the start.")})
    return Campaign.objects.create(
        name=name,
        channel=channel,
        purpose=purpose,
        audience=audience,
        starts_at=starts_at,
        ends_at=ends_at,
        description=description,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def _transition(campaign: Campaign, allowed_from: set[str], to: str, **fields) -> bool:
    """Move the campaign to ``to`` if it is in one of ``allowed_from``; the UPDATE claims it."""
    claimed = Campaign.objects.filter(pk=campaign.pk, status__in=allowed_from).update(status=to, **fields)
    if claimed:
        campaign.status = to
        for name, value in fields.items():
            setattr(campaign, name, value)
        return True
    campaign.refresh_from_db()
    if campaign.status == to:
        return False  # a retry: already there
    raise ValidationError(
        {
            "status": _("A %(status)s campaign cannot become %(target)s.")
            % {"status": campaign.get_status_display().lower(), "target": to}
        }
    )


def campaign_schedule(*, campaign: Campaign, starts_at: datetime | None = None) -> Campaign:
    """Draft -> scheduled (for ``starts_at``)."""
    starts_at = starts_at or campaign.starts_at
    if starts_at is None:
        raise ValidationError({"starts_at": _("A scheduled campaign needs a start.")})
    _transition(campaign, {Campaign.Status.DRAFT}, Campaign.Status.SCHEDULED, starts_at=starts_at)
    return campaign


def campaign_launch(*, campaign: Campaign, actor=None, occurred_at: datetime | None = None) -> int:
    """Start the campaign: a "sent" touch (and event) for every customer of its audience now.

    Only customers who currently allow the channel+purpose are reached. Returns how many were
    sent; a retried launch returns 0 and sends nothing twice.
    """
    when = occurred_at or timezone.now()
    with transaction.atomic():
        started = _transition(
            campaign,
            {Campaign.Status.DRAFT, Campaign.Status.SCHEDULED},
            Campaign.Status.RUNNING,
            launched_at=when,
        )
        if not started:
            return 0
        if campaign.starts_at is None:
            Campaign.objects.filter(pk=campaign.pk).update(starts_at=when)
            campaign.starts_at = when
        audience = campaign_audience(campaign)
        if getattr(actor, "is_authenticated", False):
            # A marketer launches to the customers of the audience that marketer may see.
            audience = audience.filter(pk__in=Customer.objects.visible_to(actor).values("pk"))
        customer_ids = list(audience.values_list("pk", flat=True))
        Touch.objects.bulk_create(
            [
                Touch(campaign=campaign, customer_id=pk, status=Touch.Status.SENT, occurred_at=when)
                for pk in customer_ids
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        source_type_id = ContentType.objects.get_for_model(Campaign).id
        actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
        template = events.touch_template(
            campaign, Touch.Status.SENT, occurred_at=when, actor_id=actor_id, source_type_id=source_type_id
        )
        timeline.record_many(
            (events.touch_event(template, customer_id=pk, campaign_id=campaign.pk) for pk in customer_ids),
        )
    return len(customer_ids)


def campaign_complete(*, campaign: Campaign, occurred_at: datetime | None = None) -> Campaign:
    """Running -> completed."""
    when = occurred_at or timezone.now()
    _transition(campaign, {Campaign.Status.RUNNING}, Campaign.Status.COMPLETED, completed_at=when)
    return campaign


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Draft or scheduled -> cancelled."""
    _transition(campaign, {Campaign.Status.DRAFT, Campaign.Status.SCHEDULED}, Campaign.Status.CANCELLED)
    return campaign


# --- Touches ---------------------------------------------------------------------------------------
def consent_refusal(customer: Customer, channel: str, purpose: str) -> str | None:
    """Why ``customer`` may not be contacted on channel+purpose, or None when they may."""
    consent = Consent.objects.filter(customer=customer, channel=channel, purpose=purpose).first()
    words = consent_words(channel, purpose)
    name = customer.display_name
    if consent is None:
        return _("%(name)s has not consented to %(what)s.") % {"name": name, "what": words}
    if consent.is_active:
        return None
    if consent.status == Consent.Status.WITHDRAWN:
        return _("%(name)s withdrew consent for %(what)s on %(date)s.") % {
            "name": name,
            "what": words,
            "date": timezone.localdate(consent.withdrawn_at).isoformat() if consent.withdrawn_at else "?",
        }
    return _("%(name)s has not confirmed the e-mail consent for %(what)s yet.") % {
        "name": name,
        "what": words,
    }


def _check_touchable(campaign: Campaign) -> None:
    if campaign.status not in {Campaign.Status.RUNNING, Campaign.Status.COMPLETED}:
        raise ValidationError(
            {
                "campaign": _("The campaign is %(status)s; touches need a running campaign.")
                % {"status": campaign.get_status_display().lower()}
            }
        )


def _check_sendable(campaign: Campaign, customer: Customer) -> None:
    """A send needs a running campaign and the customer's current consent."""
    if campaign.status != Campaign.Status.RUNNING:
        raise ValidationError({"campaign": _("Only a running campaign sends.")})
    refusal = consent_refusal(customer, campaign.channel, campaign.purpose)
    if refusal:
        raise ValidationError({"customer": refusal})


def touch_record(
    *,
    campaign: Campaign,
    customer: Customer,
    status: str,
    occurred_at: datetime | None = None,
    external_id: str = "",
    actor=None,
) -> tuple[Touch, bool]:
    """Record one status change of a campaign for a customer with its timeline event.

    "sent" is refused (ValidationError on ``customer``) without current consent. "unsubscribed"
    also withdraws the consent for the campaign's channel+purpose. Retried with the same
    ``external_id`` it returns the existing touch and adds nothing.
    """
    _check_choice("status", status, Touch.Status.values)
    _check_touchable(campaign)
    external_id = ("" if external_id is None else str(external_id))[:100]
    when = occurred_at or timezone.now()
    with transaction.atomic():
        existing = Touch.objects.filter(
            campaign=campaign, customer=customer, status=status, external_id=external_id
        ).first()
        if existing is not None:
            return existing, False
        if status == Touch.Status.SENT:
            _check_sendable(campaign, customer)
        touch, created = Touch.objects.get_or_create(
            campaign=campaign,
            customer=customer,
            status=status,
            external_id=external_id,
            defaults={"occurred_at": when},
        )
        if not created:
            return touch, False
        kind = events.TOUCHES[(campaign.channel, status)]
        template = events.touch_template(campaign, status)
        kind.record(
            customer=customer,
            key=events.touch_key(campaign.pk, customer.pk, status, external_id),
            payload=template.payload,
            occurred_at=when,
            actor=actor,
            source=campaign,
        )
        if status == Touch.Status.UNSUBSCRIBED:
            consent_withdraw(
                customer=customer,
                channel=campaign.channel,
                purpose=campaign.purpose,
                reason=(_('Unsubscribed from "%(campaign)s"') % {"campaign": campaign.name})[:200],
                source=f"campaign:{campaign.pk}",
                actor=actor,
                occurred_at=when,
            )
    return touch, True
