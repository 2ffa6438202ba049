"""Import target of marketing: campaign touches ("marketing.touch").

Mail providers and campaign tools report what happened with a campaign (sent, delivered, opened,
clicked, converted, bounced, unsubscribed); data sources write those reports through the core's
import service. ``marketing/panels.py`` imports this module so the target is registered.

A touch is the same row and the same timeline event as one recorded by
:func:`marketing.services.touch_record` (same unique key, same idempotency key), so a report that
arrives twice, by webhook and in a file, counts once. The touch id is the provider's event id; a
row without one is identified by a hash of its content (campaign, customer, status, time).

Differences to the service, on purpose: "sent" is not refused for missing consent (an import
records a send that happened elsewhere; it does not send), and an unsubscribe withdraws the
consent only when no newer grant exists (an old report must not undo a later opt-in).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from customer360 import bulk, timeline
from customer360.models import Customer, Department
from customer360.sources import identity, records
from customer360.sources.mapping import CoercionError, to_datetime
from customer360.sources.targets import (
    CUSTOMER_TARGET_FIELDS,
    ImportContext,
    ImportTarget,
    PreparedRow,
    RowResult,
    TargetField,
    import_targets,
)
from customer360.text import fold
from marketing import events
from marketing.models import Campaign, Consent, Touch
from marketing.services import consent_withdraw

_refusal = records.refusal

TOUCHABLE = {Campaign.Status.RUNNING, Campaign.Status.COMPLETED}
STATUS_SYNONYMS = {
    "send": "sent",
    "gesendet": "sent",
    "versendet": "sent",
    "zugestellt": "delivered",
    "open": "opened",
    "geoeffnet": "opened",
    "click": "clicked",
    "geklickt": "clicked",
    "conversion": "converted",
    "bounce": "bounced",
    "hard bounce": "bounced",
    "soft bounce": "bounced",
    "unsubscribe": "unsubscribed",
    "abgemeldet": "unsubscribed",
    "opt-out": "unsubscribed",
}

TOUCH_FIELDS: tuple[TargetField, ...] = (
    TargetField(
        "touch_id", gettext_lazy("Touch id"), "id", aliases=("id", "event id", "message id", "touch")
    ),
    TargetField(
        "campaign", gettext_lazy("Campaign"), required=True, aliases=("kampagne", "campaign name", "mailing")
    ),
    *CUSTOMER_TARGET_FIELDS,
    TargetField("status", gettext_lazy("Status"), required=True, aliases=("event", "action", "aktion")),
    TargetField(
        "occurred_at",
        gettext_lazy("Occurred at"),
        "datetime",
        aliases=("date", "datum", "timestamp", "time", "zeitpunkt"),
    ),
)


@cache
def _statuses() -> dict[str, str]:
    with translation.override("en"):
        lookup = {fold(str(label)): value for value, label in Touch.Status.choices}
    return {**lookup, **STATUS_SYNONYMS, **{v: v for v in Touch.Status.values}}


def _when(value) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=timezone.get_default_timezone())
    return to_datetime(str(value))


@dataclass
class _Touch:
    index: int
    row: PreparedRow
    campaign_name: str
    status: str
    occurred_at: datetime | None
    campaign: Campaign | None = None
    customer_id: int | None = None
    external_id: str = ""


def _clean(row: PreparedRow, ctx: ImportContext, index: int) -> _Touch | RowResult:
    values = row.values
    status = _statuses().get(fold(str(values.get("status") or "")))
    if status is None:
        allowed = ", ".join(Touch.Status.values)
        return _refusal(row, ctx, "status", gettext("is not one of %(allowed)s") % {"allowed": allowed})
    name = str(values.get("campaign") or "").strip()
    if not name:
        return _refusal(row, ctx, "campaign", gettext("is empty, but a campaign is required"))
    occurred_at = None
    if values.get("occurred_at") not in (None, ""):
        try:
            occurred_at = _when(values["occurred_at"])
        except CoercionError as exc:
            return _refusal(row, ctx, "occurred_at", str(exc))
    if not identity.identity_keys(values, ctx.source.slug):
        return RowResult(
            "failed", gettext("No customer identifier: map an external id, e-mail or phone column.")
        )
    return _Touch(index, row, name, status, occurred_at)


def _campaigns(names: set[str]) -> dict[str, list[Campaign]]:
    """Campaigns by folded name; one query for the whole batch."""
    if not names:
        return {}
    lowered = {n.lower() for n in names}
    rows = Campaign.objects.annotate(lowered=Lower("name")).filter(Q(name__in=names) | Q(lowered__in=lowered))
    found: dict[str, list[Campaign]] = {}
    for campaign in rows:
        found.setdefault(fold(campaign.name), []).append(campaign)
    return found


def _campaign_problem(touch: _Touch, found: dict[str, list[Campaign]]) -> str:
    matches = found.get(fold(touch.campaign_name), [])
    if not matches:
        return gettext("not found: no campaign has this name")
    if len(matches) > 1:
        return gettext("matches %(count)s campaigns; rename one to make it unique") % {"count": len(matches)}
    campaign = matches[0]
    if campaign.status not in TOUCHABLE:
        return gettext("is a %(status)s campaign; touches need a running or completed one") % {
            "status": campaign.get_status_display().lower()
        }
    touch.campaign = campaign
    return ""


def _external_id(touch: _Touch, slug: str) -> str:
    """The provider's event id, or a hash of what the row says (the same row gives the same id)."""
    given = str(touch.row.values.get("touch_id") or "").strip()
    if given:
        return given[:100]
    keys = sorted(identity.identity_keys(touch.row.values, slug))
    when = touch.occurred_at.isoformat() if touch.occurred_at else ""
    content = "\x1f".join(map(str, (touch.campaign.pk, keys, touch.status, when)))
    return "h:" + hashlib.sha1(content.encode(), usedforsecurity=False).hexdigest()[:32]


def _existing(touches: list[_Touch]) -> set[tuple]:
    if not touches:
        return set()
    rows = Touch.objects.filter(
        campaign_id__in={t.campaign.pk for t in touches},
        customer_id__in={t.customer_id for t in touches},
        external_id__in={t.external_id for t in touches},
    ).values_list("campaign_id", "customer_id", "status", "external_id")
    return set(rows)


def _event(
    touch: _Touch, when: datetime, ctx: ImportContext, source_type_id: int, templates: dict
) -> timeline.EventData:
    campaign = touch.campaign
    key = (campaign.pk, touch.status)
    if key not in templates:  # the same few events for a whole batch, copied per touch
        templates[key] = events.touch_template(
            campaign,
            touch.status,
            actor_id=ctx.actor_id,
            actor_label=ctx.source.name[:120],
            source_type_id=source_type_id,
        )
    return events.touch_event(
        templates[key],
        customer_id=touch.customer_id,
        campaign_id=campaign.pk,
        external_id=touch.external_id,
        occurred_at=when,
    )


def _withdraw_consents(unsubscribes: list[tuple[_Touch, datetime]], ctx: ImportContext) -> None:
    """An unsubscribe withdraws the campaign's consent, as the service does — unless the customer
    granted it again after the reported unsubscribe. Rare rows, so the service runs per row."""
    latest: dict[tuple, tuple[_Touch, datetime]] = {}
    for touch, when in unsubscribes:
        key = (touch.customer_id, touch.campaign.channel, touch.campaign.purpose)
        if key not in latest or when > latest[key][1]:
            latest[key] = (touch, when)
    if not latest:
        return
    consents = {
        (c.customer_id, c.channel, c.purpose): c
        for c in Consent.objects.filter(customer_id__in={k[0] for k in latest})
    }
    customers = Customer.objects.in_bulk([k[0] for k in latest])
    actor = get_user_model().objects.filter(pk=ctx.actor_id).first() if ctx.actor_id else None
    for key, (touch, when) in sorted(latest.items()):
        consent = consents.get(key)
        if (
            consent
            and consent.status != Consent.Status.WITHDRAWN
            and consent.granted_at
            and consent.granted_at > when
        ):
            continue
        consent_withdraw(
            customer=customers[touch.customer_id],
            channel=touch.campaign.channel,
            purpose=touch.campaign.purpose,
            reason=(gettext('Unsubscribed from "%(campaign)s"') % {"campaign": touch.campaign.name})[:200],
            method=Consent.Method.IMPORT,
            source=f"campaign:{touch.campaign.pk}",
            actor=actor,
            occurred_at=when,
        )


def write_touches(rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """Touches of running or completed campaigns, one timeline event "<channel>.<status>" each;
    known touches are "unchanged", repeats within the import "duplicate"."""
    slug, now = ctx.source.slug, timezone.now()
    results: list[RowResult | None] = [None] * len(rows)
    touches: list[_Touch] = []
    for index, row in enumerate(rows):
        cleaned = _clean(row, ctx, index)
        if isinstance(cleaned, RowResult):
            results[index] = cleaned
        else:
            touches.append(cleaned)
    found = _campaigns({t.campaign_name for t in touches})
    valid = []
    for touch in touches:
        problem = _campaign_problem(touch, found)
        if problem:
            results[touch.index] = _refusal(touch.row, ctx, "campaign", problem)
        else:
            touch.external_id = _external_id(touch, slug)
            valid.append(touch)
    resolved = identity.resolve([t.row.values for t in valid], source_slug=slug)
    claimed = []
    for touch, (customer_id, _created) in zip(valid, resolved, strict=True):
        touch.customer_id = customer_id
        key = ("marketing.touch", touch.campaign.pk, customer_id, touch.status, touch.external_id)
        if key in ctx.seen:
            results[touch.index] = RowResult(
                "duplicate", gettext("The same touch appears earlier in this import."), customer_id
            )
            continue
        ctx.seen.add(key)
        claimed.append(touch)
    known = _existing(claimed)
    fresh = []
    for touch in claimed:
        if (touch.campaign.pk, touch.customer_id, touch.status, touch.external_id) in known:
            results[touch.index] = RowResult("unchanged", customer_id=touch.customer_id)
        else:
            results[touch.index] = RowResult("created", customer_id=touch.customer_id)
            fresh.append((touch, touch.occurred_at or now))
    bulk.bulk_insert(
        [
            Touch(
                campaign=t.campaign,
                customer_id=t.customer_id,
                status=t.status,
                occurred_at=when,
                external_id=t.external_id,
            )
            for t, when in fresh
        ],
        ignore_conflicts=True,
    )
    source_type_id = ContentType.objects.get_for_model(Campaign).id
    templates: dict[tuple, timeline.EventData] = {}
    records.record_events([_event(t, when, ctx, source_type_id, templates) for t, when in fresh])
    _withdraw_consents([(t, w) for t, w in fresh if t.status == Touch.Status.UNSUBSCRIBED], ctx)
    return [r or RowResult("failed") for r in results]


import_targets.register(
    ImportTarget(
        key="marketing.touch",
        label=gettext_lazy("Campaign touches (sent, opened, clicked, ...)"),
        department=Department.MARKETING,
        fields=TOUCH_FIELDS,
        write_rows=write_touches,
        order=50,
        api_id_field="touch_id",
    )
)
