"""Demo data for marketing: consents with proof, a year of campaigns, touches per persona.

Everything is written in bulk per chunk of customers (no per-row queries), so 100k customers work.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from customer360 import timeline
from customer360.bulk import bulk_insert, insert_rows, instance_maker
from customer360.demo import DemoContext, DemoCustomer, seeders
from customer360.sources import records
from marketing import events
from marketing.models import Campaign, Consent, ConsentChange, Segment, Touch
from marketing.services import consent_words

CHUNK = 2000
# A million touches at 100k customers: plain rows, not model instances.
TOUCH_COLUMNS = ["campaign_id", "customer_id", "status", "occurred_at", "external_id"]
# name, channel, purpose, started days ago (None: a draft in the future), audience segment key
CAMPAIGNS = [
    ("Welcome newsletter", "email", "newsletter", 340, "newsletter"),
    ("Spring offer", "email", "offers", 290, "offers"),
    ("Summer newsletter", "email", "newsletter", 220, "newsletter"),
    ("Satisfaction survey", "email", "surveys", 160, "surveys"),
    ("Autumn phone offers", "phone", "offers", 110, "phone"),
    ("Winter newsletter", "email", "newsletter", 70, "newsletter"),
    ("Renewal offer", "email", "offers", 35, "offers"),
    ("Premium newsletter", "email", "newsletter", 9, "newsletter"),
    ("Black Friday offer", "email", "offers", None, "offers"),
]
SEGMENTS = {
    "newsletter": ("Newsletter subscribers", [], "email", "newsletter"),
    "offers": ("E-mail offers", [], "email", "offers"),
    "surveys": ("Survey panel", [], "email", "surveys"),
    "phone": ("Phone offers allowed", [], "phone", "offers"),
    "vienna": ("Vienna customers", [{"field": "customer.city", "op": "eq", "value": "Wien"}], "", ""),
    "engaged": (
        "Engaged readers",
        [{"field": "marketing.clicks_30d", "op": "gte", "value": 1}],
        "email",
        "newsletter",
    ),
}
# persona: probabilities of consent (email newsletter, email offers, email surveys, phone offers)
CONSENT_ODDS = {
    "newsletter_reader": (1.0, 0.6, 0.4, 0.15),
    "loyal": (0.9, 0.4, 0.4, 0.35),
    "ordinary": (0.75, 0.25, 0.25, 0.15),
    "late_payer": (0.6, 0.15, 0.2, 0.05),
    "complainer": (0.65, 0.15, 0.4, 0.05),
    "churner": (0.8, 0.2, 0.2, 0.05),
    "prospect": (0.5, 0.2, 0.1, 0.1),
    "gruber": (1.0, 0.0, 0.0, 1.0),
}
# persona: (open, click after open, conversion after click)
ENGAGEMENT = {
    "newsletter_reader": (0.85, 0.6, 0.25),
    "loyal": (0.45, 0.3, 0.2),
    "ordinary": (0.25, 0.15, 0.05),
    "late_payer": (0.2, 0.1, 0.02),
    "complainer": (0.2, 0.1, 0.02),
    "churner": (0.15, 0.1, 0.0),
    "prospect": (0.3, 0.2, 0.05),
    "gruber": (0.5, 0.3, 0.0),
}
PAIRS = [("email", "newsletter"), ("email", "offers"), ("email", "surveys"), ("phone", "offers")]


@dataclass
class _Plan:
    """What one chunk of customers gets; turned into rows in a handful of bulk inserts."""

    consents: list[Consent] = field(default_factory=list)
    changes: list[tuple[int, str, str, ConsentChange, timeline.EventData]] = field(default_factory=list)
    touches: list[tuple] = field(default_factory=list)  # TOUCH_COLUMNS
    events: list[timeline.EventData] = field(default_factory=list)
    by_key: dict[tuple[int, str, str], Consent] = field(default_factory=dict)
    change_counts: dict[tuple[int, str, str], int] = field(default_factory=dict)


@seeders.register(
    "marketing",
    order=50,
    bulk_load=("marketing.Consent", "marketing.ConsentChange", "marketing.Touch"),
    lane="marketing",
)
def seed_marketing(ctx: DemoContext) -> None:
    """Segments, 9 campaigns over the last year, consents and touches (~9 events per customer)."""
    rng = ctx.rng("marketing")
    # Segments, campaigns and the event templates are made once, with the first chunk.
    now, sent_campaigns, types, templates = ctx.once("marketing", lambda: _campaigns(ctx, rng))
    total = 0
    for offset in range(0, len(ctx.customers), CHUNK):
        plan = _Plan()
        for customer in ctx.customers[offset : offset + CHUNK]:
            grants = _plan_consents(ctx, rng, customer, plan, now)
            _plan_touches(rng, customer, grants, sent_campaigns, plan, now, templates)
        total += _write(plan, types)
    ctx.stdout(f"    marketing: {total} events for {len(ctx.customers)} customers")


def _campaigns(ctx: DemoContext, rng: random.Random) -> tuple[datetime, list[Campaign], dict, dict]:
    """The segments and the year of campaigns; (now, campaigns sent, content types, event templates)."""
    now = timezone.now()
    marketer = ctx.users["marketing"]
    segments = {
        key: Segment.objects.create(
            name=name, rules=rules, requires_channel=channel, requires_purpose=purpose, created_by=marketer
        )
        for key, (name, rules, channel, purpose) in SEGMENTS.items()
    }
    campaigns = []
    for name, channel, purpose, days_ago, segment in CAMPAIGNS:
        if days_ago is None:
            start = ctx.moment(-30, rng)
            campaign = Campaign(name=name, channel=channel, purpose=purpose, status=Campaign.Status.DRAFT)
        else:
            start = ctx.moment(days_ago, rng)
            running = days_ago < 14
            campaign = Campaign(
                name=name,
                channel=channel,
                purpose=purpose,
                status=Campaign.Status.RUNNING if running else Campaign.Status.COMPLETED,
                launched_at=start,
                completed_at=None if running else start + timedelta(days=14),
            )
        campaign.audience = segments[segment]
        campaign.starts_at, campaign.ends_at = start, start + timedelta(days=21)
        campaign.created_by, campaign.created_at = marketer, start - timedelta(days=7)
        campaign.description = f"{name} ({consent_words(channel, purpose)})"
        campaign.save()
        campaigns.append(campaign)
    sent_campaigns = [c for c in campaigns if c.status != Campaign.Status.DRAFT]
    types = {
        "consent": ContentType.objects.get_for_model(Consent).id,
        "campaign": ContentType.objects.get_for_model(Campaign).id,
    }
    # One event per campaign and status, copied per touch (events.touch_event).
    templates = {
        (c.pk, status): events.touch_template(
            c, status, actor_label="Demo data", source_type_id=types["campaign"]
        )
        for c in sent_campaigns
        for status in Touch.Status.values
    }
    return now, sent_campaigns, types, templates


def _plan_consents(
    ctx: DemoContext, rng: random.Random, customer: DemoCustomer, plan: _Plan, now: datetime
) -> dict:
    """Consents with proof; returns {(channel, purpose): (active from, active until or None)}."""
    odds = CONSENT_ODDS.get(customer.persona, CONSENT_ODDS["ordinary"])
    grants = {}
    new_consent = instance_maker(Consent)
    first_day = max((ctx.today - timezone.localtime(customer.created_at).date()).days - 1, 1)
    for (channel, purpose), chance in zip(PAIRS, odds, strict=True):
        if rng.random() >= chance:
            continue
        granted = ctx.moment(max(first_day - rng.randint(0, 30), 1), rng)
        if customer.persona == "gruber":
            granted = ctx.moment(400, rng)
        pending = channel == "email" and customer.persona == "prospect" and rng.random() < 0.3
        confirmed = (
            None if pending or channel != "email" else granted + timedelta(minutes=rng.randint(2, 600))
        )
        consent = new_consent(
            customer_id=customer.id,
            channel=channel,
            purpose=purpose,
            status=Consent.Status.PENDING if pending else Consent.Status.GRANTED,
            granted_at=granted,
            method=Consent.Method.WEB_FORM if channel == "email" else Consent.Method.PHONE,
            source="https://example.com/newsletter" if channel == "email" else "call",
            wording_version="2025-01",
            confirmed_at=confirmed,
            updated_at=confirmed or granted,
        )
        plan.consents.append(consent)
        plan.by_key[(customer.id, channel, purpose)] = consent
        _plan_change(plan, consent, "", consent.status, granted, "")
        withdrawn = None
        if customer.persona == "gruber" and channel == "phone":
            withdrawn = ctx.moment(45, rng)
            reason = "Asked not to be called with offers"
        if withdrawn:
            consent.status, consent.withdrawn_at, consent.withdrawal_reason = "withdrawn", withdrawn, reason
            consent.updated_at = withdrawn
            _plan_change(plan, consent, "granted", "withdrawn", withdrawn, reason)
        if not pending:
            grants[(channel, purpose)] = [confirmed or granted, withdrawn]
    return grants


@cache
def _consent_url():
    return records.url_maker("marketing:customer_consent")


def _plan_change(plan: _Plan, consent: Consent, old: str, new: str, when: datetime, reason: str) -> None:
    key = (consent.customer_id, consent.channel, consent.purpose)
    n = plan.change_counts[key] = plan.change_counts.get(key, -1) + 1
    change = instance_maker(ConsentChange)(
        changed_at=when,
        old_status=old,
        new_status=new,
        method=consent.method,
        source=consent.source,
        wording_version=consent.wording_version,
        reason=reason,
    )
    # The consent as it stood after this change (the demo plans its later changes already). Never saved.
    then = instance_maker(Consent)(updated_at=when)
    then.channel, then.purpose, then.status, then.method = (
        consent.channel,
        consent.purpose,
        new,
        consent.method,
    )
    kind, values = events.consent_values(then, old)
    event = kind.event(
        customer_id=consent.customer_id,
        key=f"demo:marketing:consent:{consent.customer_id}:{consent.channel}:{consent.purpose}:{n}",
        payload=kind.payload(**values),
        occurred_at=when,
        channel=consent.channel,
        actor_label="Demo data",
        source_url=_consent_url()(consent.customer_id),
    )
    plan.changes.append((consent.customer_id, consent.channel, consent.purpose, change, event))


def _plan_touches(rng, customer, grants, campaigns, plan, now, templates) -> None:
    p_open, p_click, p_convert = ENGAGEMENT.get(customer.persona, ENGAGEMENT["ordinary"])
    received = []
    # A contact-frequency cap: customers who rarely read get about three of four mailings.
    reach = 1.0 if customer.persona in ("newsletter_reader", "gruber") else 0.72
    for campaign in campaigns:
        window = grants.get((campaign.channel, campaign.purpose))
        if not window or window[0] > campaign.starts_at or (window[1] and window[1] <= campaign.starts_at):
            continue
        if rng.random() < reach:
            received.append(campaign)
    unsubscribe_from = None
    if customer.persona == "churner" and received:
        # Churners leave late: one of the last three mailings they got.
        candidates = [c for c in received if c.channel == "email"][-3:]
        unsubscribe_from = rng.choice(candidates) if candidates else None
    for campaign in received:
        moment = campaign.starts_at + timedelta(minutes=rng.randint(0, 240))
        steps = [("sent", moment, "")]
        if campaign.channel == "email":
            if rng.random() < 0.04:
                steps.append(("bounced", moment + timedelta(minutes=1), ""))
            else:
                steps.append(("delivered", moment + timedelta(minutes=1), ""))
                steps += _engagement(rng, customer, campaign, moment, p_open, p_click, p_convert)
        elif rng.random() < 0.15:
            steps.append(("converted", moment + timedelta(minutes=5), ""))
        if campaign is unsubscribe_from:
            steps.append(("unsubscribed", moment + timedelta(hours=rng.randint(2, 48)), ""))
        for status, when, external_id in steps:
            when = min(when, now - timedelta(minutes=5))
            plan.touches.append((campaign.pk, customer.id, status, when, external_id))
            plan.events.append(
                events.touch_event(
                    templates[(campaign.pk, status)],
                    customer_id=customer.id,
                    campaign_id=campaign.pk,
                    external_id=external_id,
                    occurred_at=when,
                )
            )
        if campaign is unsubscribe_from:
            _plan_unsubscribe(plan, customer, campaign, steps[-1][1])
            return  # a churner gets nothing after leaving (simplification: all mail stops)


def _engagement(
    rng, customer, campaign, moment, p_open, p_click, p_convert
) -> list[tuple[str, datetime, str]]:
    if customer.persona == "gruber" and campaign.name == "Premium newsletter":
        opened = moment + timedelta(days=2)
        return [
            ("opened", opened, ""),
            ("clicked", opened + timedelta(days=1), ""),
            ("clicked", opened + timedelta(days=3), "2"),
        ]
    steps = []
    if rng.random() >= p_open:
        return steps
    opened = moment + timedelta(hours=rng.randint(1, 72))
    steps.append(("opened", opened, ""))
    if customer.persona == "newsletter_reader" and rng.random() < 0.4:
        steps.append(("opened", opened + timedelta(hours=rng.randint(2, 48)), "2"))
    if rng.random() >= p_click:
        return steps
    clicked = opened + timedelta(minutes=rng.randint(1, 30))
    steps.append(("clicked", clicked, ""))
    if rng.random() < p_convert:
        steps.append(("converted", clicked + timedelta(hours=rng.randint(1, 48)), ""))
    return steps


def _plan_unsubscribe(plan: _Plan, customer: DemoCustomer, campaign: Campaign, when: datetime) -> None:
    consent = plan.by_key[(customer.id, campaign.channel, campaign.purpose)]
    reason = f'Unsubscribed from "{campaign.name}"'
    old = consent.status
    consent.status, consent.withdrawn_at, consent.withdrawal_reason = "withdrawn", when, reason
    consent.updated_at = when
    _plan_change(plan, consent, old, "withdrawn", when, reason)


def _write(plan: _Plan, types: dict) -> int:
    """Insert one chunk: consents, their history, touches, timeline events."""
    bulk_insert(plan.consents, ignore_conflicts=True, rare_conflicts=True)
    customer_ids = sorted({c.customer_id for c in plan.consents})
    ids = (
        {
            (customer_id, channel, purpose): pk
            for customer_id, channel, purpose, pk in Consent.objects.filter(
                customer_id__in=customer_ids
            ).values_list("customer_id", "channel", "purpose", "id")
        }
        if customer_ids
        else {}
    )
    changes = []
    for customer_id, channel, purpose, change, event in plan.changes:
        change.consent_id = ids[(customer_id, channel, purpose)]
        event.source_type_id, event.source_id = types["consent"], str(change.consent_id)
        changes.append(change)
    bulk_insert(changes)
    insert_rows(Touch, TOUCH_COLUMNS, plan.touches, ignore_conflicts=True, rare_conflicts=True)
    events = [c[4] for c in plan.changes] + plan.events
    timeline.record_many(events, announce=False)
    return len(events)
