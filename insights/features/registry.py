"""The feature registry: named per-customer facts with their kind and their words for reasons.

Feature names are what the rule editor (insights.rules), the value field of actions and the
reasons refer to. A feature that counts timeline events says which through :class:`Counts`: the
declarations it means (``DEAL_WON``) or tags of the kind registry, never a kind's name retyped.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from billing.events import DUNNING_NOTICE
from crm.events import CALL_LOGGED, DEAL_LOST, DEAL_WON, TICKET_SLA_BREACHED
from customer360 import events
from customer360.events import EventKind


@dataclass(frozen=True)
class Counts:
    """What a count feature counts over its last ``days``: the declared ``kinds`` and every kind
    carrying one of ``tags`` (read from the registry when the features are built)."""

    days: int
    kinds: tuple[EventKind, ...] = ()
    tags: tuple[str, ...] = ()

    def names(self) -> set[str]:
        return {k.kind for k in self.kinds} | {name for tag in self.tags for name in events.kinds(tag=tag)}


@dataclass(frozen=True)
class Feature:
    """A named per-customer fact. ``reason_en``/``reason_de`` turn a notable value into plain words
    (``{v}`` the value, ``{n}`` the value as a count word, ``{t}`` a text feature named by ``text``)."""

    name: str
    label: str
    kind: str = "num"  # num | bool | cat | text
    reason_en: str = ""
    reason_de: str = ""
    text: str = ""
    model: bool = True
    one_en: str = ""  # the wording when the value is exactly 1
    one_de: str = ""
    counts: Counts | None = None


class FeatureRegistry:
    def __init__(self) -> None:
        self.items: dict[str, Feature] = {}

    def register(self, *features: Feature) -> None:
        for feature in features:
            self.items[feature.name] = feature

    def get(self, name: str) -> Feature | None:
        if name in self.items:
            return self.items[name]
        if name.startswith("attr_"):
            return Feature(name, name[5:].replace("_", " "), "cat", "{label}: {v}", "{label}: {v}")
        if name.startswith("consent_"):
            return Feature(name, name, "bool")
        return None

    def choices(self) -> list[tuple[str, str]]:
        return [(f.name, f"{f.name} – {f.label}") for f in self.items.values()]


features = FeatureRegistry()

features.register(
    Feature(
        "tenure_days",
        _("Customer for (days)"),
        reason_en="customer for {y}",
        reason_de="seit {y} Kunde",
    ),
    Feature("lifecycle", _("Lifecycle"), "cat"),
    Feature("country", _("Country"), "cat"),
    Feature("is_organisation", _("Organisation"), "bool"),
    Feature("has_email", _("Has an e-mail address"), "bool"),
    Feature("has_phone", _("Has a phone number"), "bool"),
    Feature("events_30", _("Events in 30 days")),
    Feature("events_90", _("Events in 90 days")),
    Feature("sales_30", _("Sales events in 30 days")),
    Feature("sales_90", _("Sales events in 90 days")),
    Feature("service_30", _("Service events in 30 days")),
    Feature("service_90", _("Service events in 90 days")),
    Feature("marketing_30", _("Marketing events in 30 days")),
    Feature("marketing_90", _("Marketing events in 90 days")),
    Feature("accounting_30", _("Accounting events in 30 days")),
    Feature("accounting_90", _("Accounting events in 90 days")),
    Feature("days_since_last_event", _("Days since the last event")),
    Feature(
        "days_since_last_contact",
        _("Days since the last contact"),
        reason_en="last contact {v} days ago",
        reason_de="letzter Kontakt vor {v} Tagen",
        one_en="last contact a day ago",
        one_de="letzter Kontakt vor einem Tag",
    ),
    Feature("calls_90", _("Calls logged in 90 days"), counts=Counts(90, (CALL_LOGGED,))),
    Feature(
        "email_opens_30",
        _("E-mails opened in 30 days"),
        reason_en="opened {v} mailings this month",
        reason_de="{v} Mailings diesen Monat geöffnet",
        one_en="opened a mailing this month",
        one_de="ein Mailing diesen Monat geöffnet",
        counts=Counts(30, tags=("opened",)),
    ),
    Feature("email_opens_90", _("E-mails opened in 90 days"), counts=Counts(90, tags=("opened",))),
    Feature(
        "email_clicks_30",
        _("Clicks in 30 days"),
        reason_en="clicked {t} {n} this month",
        reason_de="{t} diesen Monat {n} geklickt",
        text="top_campaign_30",
        counts=Counts(30, tags=("clicked",)),
    ),
    Feature("email_clicks_90", _("Clicks in 90 days"), counts=Counts(90, tags=("clicked",))),
    Feature("conversions_30", _("Campaign conversions in 30 days"), counts=Counts(30, tags=("converted",))),
    Feature(
        "conversions_90",
        _("Campaign conversions in 90 days"),
        reason_en="{v} campaign conversions in 90 days",
        reason_de="{v} Kampagnen-Abschlüsse in 90 Tagen",
        one_en="a campaign conversion in 90 days",
        one_de="ein Kampagnen-Abschluss in 90 Tagen",
        counts=Counts(90, tags=("converted",)),
    ),
    Feature("unsubscribes_90", _("Unsubscribes in 90 days"), counts=Counts(90, tags=("unsubscribed",))),
    Feature("top_campaign_30", _("Most clicked campaign in 30 days"), "text", model=False),
    Feature("dunning_level", _("Dunning level"), reason_en="dunning level {v}", reason_de="Mahnstufe {v}"),
    Feature(
        "dunning_notices_90",
        _("Dunning notices in 90 days"),
        reason_en="{v} overdue reminders",
        reason_de="{v} Mahnungen",
        one_en="1 overdue reminder",
        one_de="1 Mahnung",
        counts=Counts(90, (DUNNING_NOTICE,)),
    ),
    Feature(
        "overdue_amount",
        _("Overdue amount (EUR)"),
        reason_en="EUR {m} overdue",
        reason_de="EUR {m} überfällig",
    ),
    Feature("overdue_invoices", _("Overdue invoices")),
    Feature("payments_365", _("Payments in 365 days"), counts=Counts(365, tags=("payment",))),
    Feature(
        "open_tickets",
        _("Open tickets"),
        reason_en="{v} open tickets",
        reason_de="{v} offene Tickets",
        one_en="1 open ticket",
        one_de="1 offenes Ticket",
    ),
    Feature(
        "open_complaints", _("Open complaints"), reason_en="open complaint", reason_de="offene Beschwerde"
    ),
    Feature(
        "complaint_open_days",
        _("Days the oldest open complaint is open"),
        reason_en="complaint open for {v} days",
        reason_de="Beschwerde seit {v} Tagen offen",
        one_en="complaint open for a day",
        one_de="Beschwerde seit einem Tag offen",
    ),
    Feature(
        "complaints_90",
        _("Complaints in 90 days"),
        reason_en="{v} complaints in 90 days",
        reason_de="{v} Beschwerden in 90 Tagen",
        one_en="a complaint in the last 90 days",
        one_de="eine Beschwerde in den letzten 90 Tagen",
    ),
    Feature("sla_breaches_90", _("SLA breaches in 90 days"), counts=Counts(90, (TICKET_SLA_BREACHED,))),
    Feature(
        "last_csat",
        _("Last satisfaction score (1-5)"),
        reason_en="last satisfaction score {v} of 5",
        reason_de="letzte Zufriedenheit {v} von 5",
    ),
    Feature("days_since_csat", _("Days since the last satisfaction score")),
    Feature(
        "open_deals",
        _("Open deals"),
        reason_en="{v} open deals",
        reason_de="{v} offene Deals",
        one_en="1 open deal",
        one_de="1 offener Deal",
    ),
    Feature(
        "deal_stage",
        _("Stage of the newest open deal"),
        "cat",
        reason_en="open deal in stage {v}",
        reason_de="offener Deal in Phase {v}",
    ),
    Feature("deal_age_days", _("Age of the oldest open deal (days)")),
    Feature("deals_won_365", _("Deals won in 365 days"), counts=Counts(365, (DEAL_WON,))),
    Feature("deals_lost_365", _("Deals lost in 365 days"), counts=Counts(365, (DEAL_LOST,))),
    Feature("has_contract", _("Has an active contract"), "bool"),
    Feature(
        "contract_cancelled",
        _("Last contract was cancelled"),
        "bool",
        reason_en="contract cancelled",
        reason_de="Vertrag gekündigt",
    ),
    Feature(
        "days_to_renewal",
        _("Days to the contract renewal"),
        reason_en="contract renewal in {v} days",
        reason_de="Vertragsverlängerung in {v} Tagen",
    ),
    Feature(
        "recency_days",
        _("Days since the last purchase or payment"),
        reason_en="last purchase {v} days ago",
        reason_de="letzter Kauf vor {v} Tagen",
    ),
    Feature(
        "frequency_365",
        _("Purchases and payments in 365 days"),
        counts=Counts(365, tags=("purchase", "payment")),
    ),
    Feature(
        "monetary_365",
        _("Revenue in 365 days (EUR)"),
        reason_en="EUR {m} in the last 12 months",
        reason_de="EUR {m} in den letzten 12 Monaten",
    ),
    Feature("offers_in_period", _("Offers made in the policy period"), model=False),
)

CONSENT_CHANNELS = {"email": _("E-mail"), "phone": _("Phone"), "sms": _("SMS"), "letter": _("Letter")}
CONSENT_PURPOSES = {"offers": _("Offers"), "newsletter": _("Newsletter")}
for _channel, _channel_label in CONSENT_CHANNELS.items():
    for _purpose, _purpose_label in CONSENT_PURPOSES.items():
        features.register(
            Feature(
                f"consent_{_channel}_{_purpose}",
                format_lazy(
                    _("Consent: {channel}, {purpose}"), channel=_channel_label, purpose=_purpose_label
                ),
                "bool",
                model=False,
            )
        )
