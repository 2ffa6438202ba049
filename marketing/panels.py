"""What marketing adds to the core: the 360 panel, menu entries, conditions and brief items."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from customer360.formatting import day
from customer360.registry import (
    BriefItem,
    BriefSource,
    NavItem,
    Panel,
    brief_sources,
    memo,
    navigation,
    panels,
)
from marketing import conditions
from marketing.models import Consent, ConsentChannel, Purpose, Touch

ENGAGEMENT = (Touch.Status.OPENED, Touch.Status.CLICKED, Touch.Status.CONVERTED, Touch.Status.UNSUBSCRIBED)
TIMES = {1: gettext_lazy("once"), 2: gettext_lazy("twice")}


def consent_badges(customer) -> list[dict]:
    """The badges, read once per page for the panel and the brief."""
    return memo(customer, "marketing.badges", lambda: _read_consent_badges(customer))


# Badge words in the reader's language ("e-mail newsletter" / "E-Mail-Newsletter"); the timeline keeps
# services.consent_words (stored titles are English, translated when shown).
BADGE_CHANNELS = {
    "email": pgettext_lazy("consent badge", "e-mail"),
    "phone": pgettext_lazy("consent badge", "phone"),
    "letter": pgettext_lazy("consent badge", "letter"),
    "sms": pgettext_lazy("consent badge", "SMS"),
}
BADGE_PURPOSES = {
    "newsletter": pgettext_lazy("consent badge", "newsletter"),
    "offers": pgettext_lazy("consent badge", "offers"),
    "surveys": pgettext_lazy("consent badge", "surveys"),
}


def badge_words(channel: str, purpose: str) -> str:
    """E.g. "phone offers" / "Telefon-Angebote"."""
    return pgettext("consent badge", "%(channel)s %(purpose)s") % {
        "channel": BADGE_CHANNELS.get(channel, channel),
        "purpose": BADGE_PURPOSES.get(purpose, purpose),
    }


def _read_consent_badges(customer) -> list[dict]:
    """One query: a badge per consent, plus "no phone offers" when that was never granted."""
    rows = list(
        Consent.objects.filter(customer=customer).values(
            "channel", "purpose", "status", "confirmed_at", "withdrawn_at"
        )
    )
    badges = []
    for row in rows:
        words = badge_words(row["channel"], row["purpose"])
        active = row["status"] == Consent.Status.GRANTED and (
            row["channel"] != ConsentChannel.EMAIL or row["confirmed_at"] is not None
        )
        if active:
            badges.append(
                {"level": "green", "text": _("%(what)s ok") % {"what": words}, **row, "active": True}
            )
        elif row["status"] == Consent.Status.WITHDRAWN:
            badges.append(
                {"level": "red", "text": _("no %(what)s") % {"what": words}, **row, "active": False}
            )
        else:
            badges.append(
                {
                    "level": "amber",
                    "text": _("%(what)s unconfirmed") % {"what": words},
                    **row,
                    "active": False,
                }
            )
    if not any(r["channel"] == ConsentChannel.PHONE and r["purpose"] == Purpose.OFFERS for r in rows):
        badges.append(
            {
                "level": "red",
                "text": _("no %(what)s") % {"what": badge_words("phone", "offers")},
                "channel": "phone",
                "purpose": "offers",
                "status": "",
                "active": False,
            }
        )
    order = {"green": 1, "amber": 2, "red": 0}
    return sorted(badges, key=lambda b: (order[b["level"]], b["channel"], b["purpose"]))


def engagement_rows(customer, now=None) -> list[dict]:
    """The engagement rows, read once per page for the panel and the brief."""
    return memo(customer, "marketing.engagement", lambda: _read_engagement_rows(customer, now))


def _read_engagement_rows(customer, now=None) -> list[dict]:
    """One query: per (status, campaign) the counts over 7/30/90 days and the latest moment."""
    now = now or timezone.now()
    d7, d30, d90 = (now - timedelta(days=n) for n in (7, 30, 90))
    return list(
        Touch.objects.filter(customer=customer, status__in=ENGAGEMENT, occurred_at__gte=d90)
        .values("status", "campaign_id", "campaign__name")
        .annotate(
            n7=Count("id", filter=Q(occurred_at__gte=d7)),
            n30=Count("id", filter=Q(occurred_at__gte=d30)),
            n90=Count("id"),
            last=Max("occurred_at"),
        )
        .order_by()
    )


def engagement_summary(rows: list[dict]) -> dict:
    totals = {status: {"n30": 0, "n90": 0} for status in ENGAGEMENT}
    last_click = None
    for row in rows:
        totals[row["status"]]["n30"] += row["n30"]
        totals[row["status"]]["n90"] += row["n90"]
        if row["status"] == Touch.Status.CLICKED and (last_click is None or row["last"] > last_click["last"]):
            last_click = row
    return {"totals": totals, "last_click": last_click}


def panel_context(request, customer) -> dict:
    """Consent badges and campaign engagement, in two queries."""
    summary = engagement_summary(engagement_rows(customer))
    return {
        "badges": consent_badges(customer),
        "opens": summary["totals"][Touch.Status.OPENED],
        "clicks": summary["totals"][Touch.Status.CLICKED],
        "conversions": summary["totals"][Touch.Status.CONVERTED],
        "last_click": summary["last_click"],
        "consent_url": reverse("marketing:customer_consent", args=[customer.pk]),
        "can_change": request.user.has_perm("marketing.change_consent"),
    }


def _times(n: int) -> str:
    return str(TIMES[n]) if n in TIMES else _("%(n)s times") % {"n": n}


def brief_items(customer, user) -> list[BriefItem]:
    """Do not offer by phone without consent; recent unsubscribes; recent clicks. Two queries."""
    items: list[BriefItem] = []
    badges = consent_badges(customer)
    phone_offers = next(b for b in badges if b["channel"] == "phone" and b["purpose"] == "offers")
    if not phone_offers["active"]:
        items.append(
            BriefItem(
                level="avoid",
                text=_("Customer does not want phone offers"),
                department="marketing",
                occurred_at=phone_offers.get("withdrawn_at"),
            )
        )
    now = timezone.now()
    for row in engagement_rows(customer, now):
        if row["status"] == Touch.Status.UNSUBSCRIBED and row["n30"]:
            items.append(
                BriefItem(
                    level="red",
                    text=_("Unsubscribed from %(campaign)s on %(date)s")
                    % {
                        "campaign": row["campaign__name"],
                        "date": day(row["last"]),
                    },
                    department="marketing",
                    occurred_at=row["last"],
                )
            )
        elif row["status"] == Touch.Status.CLICKED and row["n7"]:
            items.append(
                BriefItem(
                    level="info",
                    text=_("Clicked the %(campaign)s %(times)s last week")
                    % {"campaign": row["campaign__name"], "times": _times(row["n7"])},
                    department="marketing",
                    occurred_at=row["last"],
                )
            )
    return items


panels.register(
    Panel(
        key="marketing",
        title=gettext_lazy("Marketing"),
        template="marketing/_panel.html",
        context=panel_context,
        order=50,
        department="marketing",
        permission="marketing.view_consent",
        badges=consent_badges,
    )
)
navigation.register(
    NavItem(
        key="campaigns",
        label=gettext_lazy("Campaigns"),
        url_name="marketing:campaign_list",
        order=50,
        group="marketing",
        permission="marketing.view_campaign",
    )
)
navigation.register(
    NavItem(
        key="segments",
        label=gettext_lazy("Segments"),
        url_name="marketing:segment_list",
        order=51,
        group="marketing",
        permission="marketing.view_segment",
    )
)
brief_sources.register(BriefSource(key="marketing", items=brief_items, order=50))
conditions.register()

from marketing import imports  # noqa: E402,F401  (registers import targets)
