"""Per-customer features across all departments: a registry and one vectorised builder.

The builder works in two steps so that training and scoring share the same code:

1. *frames*: customers, event counts per (row, department, kind) and "state" events (dunning
   notices, tickets, deals, consents, ...) with the payload fields they need. For scoring they come
   from SQL aggregates at one moment (``now``); for training they come from raw events at each
   example's own moment (``as_of``, strictly before), so nothing from the future leaks in.
2. :func:`compute_features` turns frames into one row per scoring point (pure pandas).

Feature names are what the rule editor, the value field of actions and the reasons refer to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import BigIntegerField, CharField, Count, F, Func, Max, Q
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customer360 import events
from customer360.models import Customer, TimelineEvent


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
        reason_en="customer for {y} years",
        reason_de="seit {y} Jahren Kunde",
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
    ),
    Feature("calls_90", _("Calls logged in 90 days")),
    Feature(
        "email_opens_30",
        _("E-mails opened in 30 days"),
        reason_en="opened {n} mailings this month",
        reason_de="{n} Mailings diesen Monat geöffnet",
        one_en="opened a mailing this month",
        one_de="ein Mailing diesen Monat geöffnet",
    ),
    Feature("email_opens_90", _("E-mails opened in 90 days")),
    Feature(
        "email_clicks_30",
        _("Clicks in 30 days"),
        reason_en="clicked {t} {n} this month",
        reason_de="{t} diesen Monat {n} geklickt",
        text="top_campaign_30",
    ),
    Feature("email_clicks_90", _("Clicks in 90 days")),
    Feature("conversions_30", _("Campaign conversions in 30 days")),
    Feature(
        "conversions_90",
        _("Campaign conversions in 90 days"),
        reason_en="{v} campaign conversions in 90 days",
        reason_de="{v} Kampagnen-Abschlüsse in 90 Tagen",
    ),
    Feature("unsubscribes_90", _("Unsubscribes in 90 days")),
    Feature("top_campaign_30", _("Most clicked campaign in 30 days"), "text", model=False),
    Feature("dunning_level", _("Dunning level"), reason_en="dunning level {v}", reason_de="Mahnstufe {v}"),
    Feature(
        "dunning_notices_90",
        _("Dunning notices in 90 days"),
        reason_en="{v} overdue reminders",
        reason_de="{v} Mahnungen",
        one_en="1 overdue reminder",
        one_de="1 Mahnung",
    ),
    Feature(
        "overdue_amount",
        _("Overdue amount (EUR)"),
        reason_en="EUR {m} overdue",
        reason_de="EUR {m} überfällig",
    ),
    Feature("overdue_invoices", _("Overdue invoices")),
    Feature("payments_365", _("Payments in 365 days")),
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
    ),
    Feature(
        "complaints_90",
        _("Complaints in 90 days"),
        reason_en="{v} complaints in 90 days",
        reason_de="{v} Beschwerden in 90 Tagen",
        one_en="a complaint in the last 90 days",
        one_de="eine Beschwerde in den letzten 90 Tagen",
    ),
    Feature("sla_breaches_90", _("SLA breaches in 90 days")),
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
    Feature("deals_won_365", _("Deals won in 365 days")),
    Feature("deals_lost_365", _("Deals lost in 365 days")),
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
    Feature("frequency_365", _("Purchases and payments in 365 days")),
    Feature(
        "monetary_365",
        _("Revenue in 365 days (EUR)"),
        reason_en="EUR {m} in the last 12 months",
        reason_de="EUR {m} in den letzten 12 Monaten",
    ),
    Feature("offers_in_period", _("Offers made in the policy period"), model=False),
)

CONSENT_CHANNELS = ("email", "phone", "sms", "letter")
CONSENT_PURPOSES = ("offers", "newsletter")
for _channel in CONSENT_CHANNELS:
    for _purpose in CONSENT_PURPOSES:
        features.register(
            Feature(f"consent_{_channel}_{_purpose}", f"Consent {_channel}/{_purpose}", "bool", model=False)
        )

DEPARTMENTS = ("sales", "service", "marketing", "accounting")
PURCHASE_KINDS = ("deal.won", "payment.received", "invoice.paid", "contract.started", "contract.renewed")
CLOSED_TICKET = ("ticket.solved", "ticket.closed")
CLOSED_DEAL = ("deal.won", "deal.lost")
INVOICE_CLOSED = ("invoice.paid", "invoice.cancelled")
STATE_KINDS = (
    "dunning.notice",
    "invoice.paid",
    "invoice.cancelled",
    "payment.received",
    "ticket.opened",
    "ticket.solved",
    "ticket.closed",
    "ticket.reopened",
    "csat.received",
    "deal.created",
    "deal.stage_changed",
    "deal.won",
    "deal.lost",
    "contract.started",
    "contract.renewed",
    "contract.cancelled",
    "consent.given",
    "consent.withdrawn",
    "email.clicked",
)
PAYLOAD_FIELDS = (
    "invoice_id",
    "ticket_id",
    "deal_id",
    "level",
    "open_amount",
    "amount",
    "category",
    "score",
    "stage",
    "channel",
    "purpose",
    "campaign",
)
COUNT_WINDOWS = (30, 90, 365)
DAY = np.timedelta64(1, "D")


# --- frames from the database ---------------------------------------------------------------------
def _event_scope(ids: list[int] | None, id_range: tuple[int, int] | None) -> Q:
    if id_range is not None:
        return Q(customer_id__gte=id_range[0], customer_id__lte=id_range[1])
    if ids is not None and len(ids) <= 2000:
        return Q(customer_id__in=ids)
    if ids is not None:  # a long list: the id range, then pandas keeps the listed ones
        return Q(customer_id__gte=min(ids), customer_id__lte=max(ids)) if ids else Q(pk__in=[])
    return Q()


def load_customers(ids: list[int] | None = None, id_range: tuple[int, int] | None = None) -> pd.DataFrame:
    """Core customer columns (one query)."""
    qs = Customer.objects.all()
    if id_range is not None:
        qs = qs.filter(pk__gte=id_range[0], pk__lte=id_range[1])
    elif ids is not None:
        qs = qs.filter(pk__in=ids) if len(ids) <= 2000 else qs.filter(pk__gte=min(ids), pk__lte=max(ids))
    rows = list(
        qs.order_by("pk").values_list(
            "pk", "created_at", "lifecycle", "kind", "country", "email", "phone", "attributes", "owner_id"
        )
    )
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "created_at",
            "lifecycle",
            "kind",
            "country",
            "email",
            "phone",
            "attributes",
            "owner_id",
        ],
    )
    if ids is not None and len(ids) > 2000:
        frame = frame[frame["customer_id"].isin(ids)]
    return frame


class EpochMicros(Func):
    """A timestamp as integer microseconds since 1970 (PostgreSQL): exact, and read back by the
    driver as a plain integer instead of one Python datetime per value, which dominated loading."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


class Unindexed(Func):
    """The same text, but an expression the planner cannot answer from an index on the column."""

    template = "(%(expressions)s || '')"
    output_field = CharField()


def _moment(expression):
    expression = F(expression) if isinstance(expression, str) else expression
    return EpochMicros(expression) if connection.vendor == "postgresql" else expression


def _utc(values: pd.Series) -> pd.Series:
    """Times loaded by :func:`_moment` as a UTC datetime Series."""
    if pd.api.types.is_numeric_dtype(values.dtype) or (values.isna().all() and len(values)):
        return pd.to_datetime(pd.to_numeric(values), unit="us", utc=True)
    return pd.to_datetime(values, utc=True)


def _rows(qs) -> list[tuple]:
    """The rows of a ``values_list`` queryset; on PostgreSQL straight from the cursor, without
    Django's per-row converters (the values are already plain ints, floats and strings)."""
    if connection.vendor != "postgresql":
        return list(qs)
    query = qs.query
    selected = [*query.extra_select, *query.values_select, *query.annotation_select]
    if list(qs._fields or selected) != selected:  # values_list reorders such rows; keep it simple
        return list(qs)
    sql, params = query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def load_state_events(scope: Q, until: datetime | None = None) -> pd.DataFrame:
    """The events whose payload tells a current state (tickets, dunning, deals, consents, ...)."""
    qs = TimelineEvent.objects.filter(scope)
    if connection.vendor == "postgresql":
        # ``kind || ''`` keeps the planner on the customer index: with the kind index it ANDs
        # ~40 % of the whole table into a bitmap for every chunk (3-4x slower).
        qs = qs.alias(kind_text=Unindexed("kind")).filter(kind_text__in=STATE_KINDS)
    else:
        qs = qs.filter(kind__in=STATE_KINDS)
    if until is not None:
        qs = qs.filter(occurred_at__lte=until)
    annotations = {f"p_{name}": KeyTextTransform(name, "payload") for name in PAYLOAD_FIELDS}
    rows = _rows(
        qs.annotate(moment=_moment("occurred_at"), **annotations)
        .values_list("customer_id", "kind", "moment", *annotations)
        .order_by()
    )
    frame = pd.DataFrame(rows, columns=["customer_id", "kind", "occurred_at", *PAYLOAD_FIELDS])
    frame["occurred_at"] = _utc(frame["occurred_at"])
    return frame


def load_counts(scope: Q, now: datetime) -> pd.DataFrame:
    """Event counts per customer, department and kind over the windows, and the newest time (SQL)."""
    windows = {
        f"n{days}": Count("id", filter=Q(occurred_at__gt=now - timedelta(days=days)))
        for days in COUNT_WINDOWS
    }
    rows = _rows(
        TimelineEvent.objects.filter(scope, occurred_at__lte=now)
        .values("customer_id", "department", "kind")
        .annotate(**windows, last_at=_moment(Max("occurred_at")))
        .values_list("customer_id", "department", "kind", *windows, "last_at")
        .order_by()
    )
    frame = pd.DataFrame(rows, columns=["customer_id", "department", "kind", *windows, "last_at"])
    frame["last_at"] = _utc(frame["last_at"])
    return frame


def load_raw_events(customer_ids: list[int]) -> pd.DataFrame:
    """All events of some customers (training: counts are taken per example's own moment)."""
    rows = list(
        TimelineEvent.objects.filter(_event_scope(customer_ids, None))
        .values_list("customer_id", "department", "kind", "occurred_at")
        .order_by()
    )
    frame = pd.DataFrame(rows, columns=["customer_id", "department", "kind", "occurred_at"])
    frame = frame[frame["customer_id"].isin(customer_ids)]
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame


# --- point-in-time helpers (training) -------------------------------------------------------------
def counts_at(points: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The same table as :func:`load_counts`, per point (row) from raw events strictly before ``as_of``."""
    merged = events.merge(points[["row", "customer_id", "as_of"]], on="customer_id")
    merged = merged[merged["occurred_at"] < merged["as_of"]]
    age = (merged["as_of"] - merged["occurred_at"]) / DAY
    for days in COUNT_WINDOWS:
        merged[f"n{days}"] = (age < days).astype(int)
    grouped = merged.groupby(["row", "department", "kind"], as_index=False).agg(
        **{f"n{d}": (f"n{d}", "sum") for d in COUNT_WINDOWS}, last_at=("occurred_at", "max")
    )
    return grouped


def state_at(points: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    merged = state.merge(points[["row", "customer_id", "as_of"]], on="customer_id")
    return merged[merged["occurred_at"] < merged["as_of"]].drop(columns=["as_of"])


# --- the builder ------------------------------------------------------------------------------------
def build_features(
    ids: list[int] | None = None,
    *,
    id_range: tuple[int, int] | None = None,
    now: datetime | None = None,
    customers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features of customers (by ids or an id range) at ``now``; indexed by customer id.

    Queries: customers, counts (SQL aggregate), state events, offers made: four in all.
    """
    now = now or timezone.now()
    if customers is None:
        customers = load_customers(ids, id_range)
    scope = _event_scope(ids, id_range)
    points = pd.DataFrame(
        {"row": customers["customer_id"].to_numpy(), "customer_id": customers["customer_id"].to_numpy()}
    )
    points["as_of"] = pd.Timestamp(now)
    counts = load_counts(scope, now).rename(columns={"customer_id": "row"})
    state = load_state_events(scope, until=now).rename(columns={"customer_id": "row"})
    frame = compute_features(points, customers, counts, state)
    frame["offers_in_period"] = _offers_in_period(frame.index.to_numpy(), scope, now)
    from insights.department_features import overlay

    overlay(frame, ids, id_range, now)
    return frame


def build_features_at(points: pd.DataFrame) -> pd.DataFrame:
    """Features for (customer_id, as_of) points, each from events strictly before its own moment.

    Returns one row per point (index ``row`` = position in ``points``) with ``customer_id``.
    """
    points = points.reset_index(drop=True).copy()
    points["row"] = np.arange(len(points))
    points["as_of"] = pd.to_datetime(points["as_of"], utc=True)
    ids = sorted(set(points["customer_id"].astype(int)))
    customers = load_customers(ids)
    events = load_raw_events(ids)
    state = load_state_events(_event_scope(ids, None))
    state = state[state["customer_id"].isin(ids)]
    return compute_features(points, customers, counts_at(points, events), state_at(points, state))


def compute_features(
    points: pd.DataFrame, customers: pd.DataFrame, counts: pd.DataFrame, state: pd.DataFrame
) -> pd.DataFrame:
    """Pure pandas: one feature row per point. ``counts`` and ``state`` are keyed by ``row``."""
    base = points.merge(customers, on="customer_id", how="left").set_index("row")
    as_of = pd.to_datetime(base["as_of"], utc=True)
    out = pd.DataFrame(index=base.index)
    out["customer_id"] = base["customer_id"].astype("int64")
    out["owner_id"] = base["owner_id"]
    out["tenure_days"] = ((as_of - pd.to_datetime(base["created_at"], utc=True)) / DAY).clip(lower=0).round()
    out["lifecycle"] = base["lifecycle"].astype("string")
    out["country"] = base["country"].astype("string")
    out["is_organisation"] = base["kind"].eq("organisation")
    out["has_email"] = base["email"].fillna("").astype(str).str.len() > 0
    out["has_phone"] = base["phone"].fillna("").astype(str).str.len() > 0
    _add_count_features(out, counts, as_of)
    _add_state_features(out, state, as_of)
    _add_attributes(out, base["attributes"])
    return out


class _Tally:
    """Sums of the count table per feature row: every mask is built once per distinct kind or
    department (a few dozen strings) and summed with ``np.bincount`` (vectorised, no groupby)."""

    def __init__(self, counts: pd.DataFrame, index: pd.Index, as_of: pd.Series) -> None:
        self.size = len(index)
        position = index.get_indexer(counts["row"]) if len(counts) else np.zeros(0, dtype="int64")
        self.known = position >= 0
        self.position = position
        self.kind_codes, self.kinds = pd.factorize(counts["kind"].astype(object))
        self.department_codes, self.departments = pd.factorize(counts["department"].astype(object))
        self.columns = {days: counts[f"n{days}"].to_numpy(dtype="float64") for days in COUNT_WINDOWS}
        self.last_at = _nanoseconds(counts["last_at"])
        self.as_of = _nanoseconds(as_of)

    def kinds_where(self, test) -> np.ndarray:
        table = np.array([bool(test(k)) for k in self.kinds], dtype=bool)
        return table[self.kind_codes] if len(table) else np.zeros(len(self.kind_codes), dtype=bool)

    def departments_in(self, names) -> np.ndarray:
        table = np.array([d in names for d in self.departments], dtype=bool)
        return (
            table[self.department_codes] if len(table) else np.zeros(len(self.department_codes), dtype=bool)
        )

    def total(self, mask: np.ndarray, days: int) -> np.ndarray:
        mask = mask & self.known
        sums = np.bincount(self.position[mask], weights=self.columns[days][mask], minlength=self.size)
        return sums.astype("int64")

    def days_since(self, mask: np.ndarray) -> np.ndarray:
        """Whole days since the newest counted event (NaN without one)."""
        mask = mask & self.known & (self.last_at != _NAT)
        newest = np.full(self.size, _NAT, dtype="int64")
        np.maximum.at(newest, self.position[mask], self.last_at[mask])
        days = (self.as_of - newest) / _DAY_NS
        days[(newest == _NAT) | (self.as_of == _NAT)] = np.nan
        return np.floor(np.clip(days, 0, None))


_NAT = np.iinfo("int64").min
_DAY_NS = 86_400 * 10**9


def _nanoseconds(values: pd.Series) -> np.ndarray:
    """UTC datetimes as int64 nanoseconds (NaT stays the int64 minimum); no Python objects."""
    if not len(values):
        return np.zeros(0, dtype="int64")
    return pd.to_datetime(values, utc=True).to_numpy(dtype="datetime64[ns]").view("int64")


def _add_count_features(out: pd.DataFrame, counts: pd.DataFrame, as_of: pd.Series) -> None:
    tally = _Tally(counts, out.index, as_of)
    every = tally.departments_in(DEPARTMENTS)
    for days in (30, 90):
        out[f"events_{days}"] = tally.total(every, days)
        for department in DEPARTMENTS:
            out[f"{department}_{days}"] = tally.total(tally.departments_in((department,)), days)
    marketing = tally.departments_in(("marketing",))
    for name, suffix in (
        ("email_opens", ".opened"),
        ("email_clicks", ".clicked"),
        ("conversions", ".converted"),
    ):
        mask = marketing & tally.kinds_where(lambda k, suffix=suffix: k.endswith(suffix))
        for days in (30, 90):
            out[f"{name}_{days}"] = tally.total(mask, days)
    unsubscribed = marketing & tally.kinds_where(lambda k: k.endswith(".unsubscribed"))
    out["unsubscribes_90"] = tally.total(unsubscribed, 90)
    out["calls_90"] = tally.total(tally.kinds_where(lambda k: k == "call.logged"), 90)
    out["dunning_notices_90"] = tally.total(tally.kinds_where(lambda k: k == "dunning.notice"), 90)
    out["sla_breaches_90"] = tally.total(tally.kinds_where(lambda k: k == "ticket.sla_breached"), 90)
    payments = tally.kinds_where(lambda k: k in ("payment.received", "invoice.paid"))
    out["payments_365"] = tally.total(payments, 365)
    out["deals_won_365"] = tally.total(tally.kinds_where(lambda k: k == "deal.won"), 365)
    out["deals_lost_365"] = tally.total(tally.kinds_where(lambda k: k == "deal.lost"), 365)
    purchases = tally.kinds_where(lambda k: k in PURCHASE_KINDS)
    out["frequency_365"] = tally.total(purchases, 365)
    out["days_since_last_event"] = tally.days_since(every)
    contact_kinds = set(events.kinds(contact=True))  # from the registry: every app's contact kinds
    out["days_since_last_contact"] = tally.days_since(tally.kinds_where(lambda k: k in contact_kinds))
    out["recency_days"] = tally.days_since(purchases)


def _age_days(as_of: pd.Series, rows: pd.Series, moments: pd.Series) -> np.ndarray:
    """Days between each row's ``as_of`` and a moment (float; NaN where the moment is missing)."""
    if not len(rows):
        return np.zeros(0)
    reference = _nanoseconds(as_of)[as_of.index.get_indexer(rows)]
    when = _nanoseconds(moments)
    days = (reference - when) / _DAY_NS
    days[when == _NAT] = np.nan
    return days


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _add_state_features(out: pd.DataFrame, state: pd.DataFrame, as_of: pd.Series) -> None:
    index = out.index
    state = state.sort_values(["occurred_at"], kind="stable")
    kind = state["kind"]
    # Dunning: the newest notice per invoice counts while no payment or cancellation came after it.
    notices = state[kind.eq("dunning.notice")].drop_duplicates(["row", "invoice_id"], keep="last")
    closers = state[kind.isin(INVOICE_CLOSED) | (kind.eq("payment.received") & state["invoice_id"].notna())]
    closed = closers.groupby(["row", "invoice_id"])["occurred_at"].max().rename("closed_at")
    notices = notices.join(closed, on=["row", "invoice_id"])
    still_open = notices[notices["closed_at"].isna() | (notices["closed_at"] < notices["occurred_at"])]
    out["dunning_level"] = (
        _num(still_open["level"]).groupby(still_open["row"]).max().reindex(index).fillna(0).astype("int64")
    )
    out["overdue_amount"] = (
        _num(still_open["open_amount"]).groupby(still_open["row"]).sum().reindex(index).fillna(0.0).round(2)
    )
    out["overdue_invoices"] = still_open.groupby("row").size().reindex(index, fill_value=0)
    # Tickets: open while the newest event of the ticket is not "solved"/"closed".
    tickets = state[kind.str.startswith("ticket.") & state["ticket_id"].notna()]
    last = tickets.drop_duplicates(["row", "ticket_id"], keep="last").set_index(["row", "ticket_id"])
    opened = tickets[tickets["kind"].eq("ticket.opened")].drop_duplicates(["row", "ticket_id"], keep="first")
    opened = opened.set_index(["row", "ticket_id"])
    info = pd.DataFrame({"last_kind": last["kind"]}).join(
        opened[["occurred_at", "category"]].rename(columns={"occurred_at": "opened_at"}), how="left"
    )
    info["category"] = info["category"].fillna(
        tickets.dropna(subset=["category"])
        .drop_duplicates(["row", "ticket_id"])
        .set_index(["row", "ticket_id"])["category"]
    )
    info = info.reset_index()
    open_ = info[~info["last_kind"].isin(CLOSED_TICKET)]
    complaints_open = open_[open_["category"].eq("complaint")]
    out["open_tickets"] = open_.groupby("row").size().reindex(index, fill_value=0)
    out["open_complaints"] = complaints_open.groupby("row").size().reindex(index, fill_value=0)
    oldest = complaints_open.groupby("row")["opened_at"].min().reindex(index)
    out["complaint_open_days"] = ((as_of - oldest) / DAY).floordiv(1)
    recent = info[info["category"].eq("complaint") & info["opened_at"].notna()]
    recent_age = _age_days(as_of, recent["row"], recent["opened_at"])
    out["complaints_90"] = recent[recent_age < 90].groupby("row").size().reindex(index, fill_value=0)
    # Satisfaction: the newest score.
    csat = state[kind.eq("csat.received")].drop_duplicates("row", keep="last").set_index("row")
    out["last_csat"] = _num(csat["score"]).reindex(index)
    out["days_since_csat"] = ((as_of - csat["occurred_at"].reindex(index)) / DAY).floordiv(1)
    _add_deal_features(out, state, as_of)
    _add_contract_and_money(out, state, as_of)
    _add_consents(out, state)
    clicks = state[kind.eq("email.clicked") & state["campaign"].notna()]
    clicks = clicks[_age_days(as_of, clicks["row"], clicks["occurred_at"]) < 30]
    top = clicks.groupby(["row", "campaign"]).size().rename("n").reset_index()
    top = top.sort_values(["row", "n", "campaign"], ascending=[True, False, True]).drop_duplicates("row")
    out["top_campaign_30"] = top.set_index("row")["campaign"].reindex(index).fillna("").astype(str)


def _add_deal_features(out: pd.DataFrame, state: pd.DataFrame, as_of: pd.Series) -> None:
    index = out.index
    deals = state[state["kind"].str.startswith("deal.") & state["deal_id"].notna()]
    first = deals.drop_duplicates(["row", "deal_id"], keep="first").set_index(["row", "deal_id"])[
        "occurred_at"
    ]
    last = deals.drop_duplicates(["row", "deal_id"], keep="last").set_index(["row", "deal_id"])
    info = pd.DataFrame({"kind": last["kind"], "stage": last["stage"], "started": first}).reset_index()
    open_ = info[~info["kind"].isin(CLOSED_DEAL)]
    out["open_deals"] = open_.groupby("row").size().reindex(index, fill_value=0)
    newest = open_.sort_values("started").drop_duplicates("row", keep="last").set_index("row")
    out["deal_stage"] = newest["stage"].reindex(index).astype("string")
    out["deal_age_days"] = ((as_of - open_.groupby("row")["started"].min().reindex(index)) / DAY).floordiv(1)


def _add_contract_and_money(out: pd.DataFrame, state: pd.DataFrame, as_of: pd.Series) -> None:
    index = out.index
    contracts = (
        state[state["kind"].str.startswith("contract.")].drop_duplicates("row", keep="last").set_index("row")
    )
    last_kind = contracts["kind"].reindex(index)
    out["has_contract"] = last_kind.isin(("contract.started", "contract.renewed"))
    out["contract_cancelled"] = last_kind.eq("contract.cancelled")
    # Yearly contracts: the next renewal is the next anniversary of the last start or renewal.
    since = ((as_of - contracts["occurred_at"].reindex(index)) / DAY).floordiv(1)
    to_renewal = (365 - since.mod(365)).where(out["has_contract"])
    out["days_to_renewal"] = to_renewal
    money = state[state["kind"].isin(("deal.won", "payment.received"))]
    money = money[_age_days(as_of, money["row"], money["occurred_at"]) < 365]
    out["monetary_365"] = (
        _num(money["amount"]).groupby(money["row"]).sum().reindex(index).fillna(0.0).round(2)
    )


def _add_consents(out: pd.DataFrame, state: pd.DataFrame) -> None:
    consents = state[state["kind"].isin(("consent.given", "consent.withdrawn"))].dropna(
        subset=["channel", "purpose"]
    )
    latest = consents.drop_duplicates(["row", "channel", "purpose"], keep="last")
    latest = latest.assign(
        given=latest["kind"].eq("consent.given"),
        column="consent_" + latest["channel"] + "_" + latest["purpose"],
    )
    wide = latest.pivot_table(index="row", columns="column", values="given", aggfunc="last")
    columns = {f"consent_{c}_{p}" for c in CONSENT_CHANNELS for p in CONSENT_PURPOSES} | set(wide.columns)
    for column in sorted(columns):
        values = wide[column].reindex(out.index) if column in wide.columns else None
        # No record means no consent (opt-in).
        out[column] = values.fillna(False).astype(bool) if values is not None else False


def _add_attributes(out: pd.DataFrame, attributes: pd.Series) -> None:
    """What data sources bring: each attribute key becomes ``attr_<key>`` (numeric or category)."""
    values = attributes.apply(lambda a: a if isinstance(a, dict) else {})
    if values.empty or not values.map(bool).any():
        return
    wide = pd.DataFrame(values.tolist(), index=out.index)
    for key in wide.columns:
        name = "attr_" + "".join(ch if ch.isalnum() else "_" for ch in str(key)).lower()
        column = wide[key]
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.notna().sum() >= column.notna().sum() * 0.95 and column.notna().any():
            out[name] = numeric
        else:
            out[name] = column.astype("string")


def _offers_in_period(customer_ids: np.ndarray, scope: Q, now: datetime) -> np.ndarray:
    """Offers the customer got (accepted or completed) within the contact policy's period."""
    from insights.models import ContactPolicy, Recommendation

    policy = ContactPolicy.current()
    since = now - timedelta(days=policy.period_days)
    rows = (
        Recommendation.objects.filter(
            scope,
            action__is_offer=True,
            status__in=[Recommendation.Status.ACCEPTED, Recommendation.Status.COMPLETED],
            decided_at__gte=since,
        )
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
        .order_by()
    )
    counts = dict(rows)
    return np.array([counts.get(int(c), 0) for c in customer_ids], dtype="int64")


def model_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(numeric, categorical) columns a model may use: registered model features and attributes."""
    numeric: list[str] = []
    categorical: list[str] = []
    for column in frame.columns:
        if column in ("customer_id", "owner_id"):
            continue
        feature = features.get(column)
        if feature is None or not feature.model or feature.kind == "text":
            continue
        dtype = frame[column].dtype
        if feature.kind == "cat" and not pd.api.types.is_numeric_dtype(dtype):
            categorical.append(column)
        elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(column)
        else:
            categorical.append(column)
    return numeric, categorical
