"""The vectorised feature builder: frames in, one feature row per scoring point out (pandas).

:func:`build_features` (scoring, at ``now``) and :func:`build_features_at` (training, per example's
own moment) load their frames (insights.features.frames) and share :func:`compute_features`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db.models import Count, Q
from django.utils import timezone

from billing.events import DUNNING_NOTICE
from crm.events import CSAT_RECEIVED, TICKET_OPENED
from customer360 import events
from insights.features.frames import (
    COUNT_WINDOWS,
    DAY,
    DEPARTMENTS,
    EMAIL_CLICKED,
    _event_scope,
    counts_at,
    load_counts,
    load_customers,
    load_raw_events,
    load_state_events,
    state_at,
)
from insights.features.registry import CONSENT_CHANNELS, CONSENT_PURPOSES, features
from marketing.events import CONSENT_GIVEN


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


#: Customers per chunk of training points: their customers, events and state are read by an IN list
#: (never by an id range, which for a sparse sample would span every customer in between), so a
#: training run holds the raw rows of one chunk at a time, whatever the number of customers.
TRAINING_CHUNK = 2000


def build_features_at(points: pd.DataFrame, *, chunk: int = TRAINING_CHUNK) -> pd.DataFrame:
    """Features for (customer_id, as_of) points, each from events strictly before its own moment.

    Returns one row per point (index ``row`` = position in ``points``) with ``customer_id``. The
    points are built ``chunk`` customers at a time (every feature of a point reads its own
    customer's rows only); the imported attributes are added once over all points, so that whether
    an attribute is a number or a category is decided on all of them, as in one piece.
    """
    points = points.reset_index(drop=True).copy()
    points["row"] = np.arange(len(points))
    points["as_of"] = pd.to_datetime(points["as_of"], utc=True)
    points["customer_id"] = points["customer_id"].astype("int64")
    ids = np.unique(points["customer_id"].to_numpy())
    chunk = max(1, min(chunk, 2000))  # an IN list (see _event_scope)
    parts, attributes = [], []
    for start in range(0, max(len(ids), 1), chunk):
        part_ids = ids[start : start + chunk].tolist()
        part = points[points["customer_id"].isin(part_ids)]
        customers = load_customers(part_ids)
        events = load_raw_events(part_ids)
        state = load_state_events(_event_scope(part_ids, None))
        parts.append(
            compute_features(
                part,
                customers.drop(columns=["attributes"]),
                counts_at(part, events),
                state_at(part, state),
            )
        )
        attributes.append(customers[["customer_id", "attributes"]])
        del customers, events, state
    out = _stack(parts)
    known = pd.concat(attributes, ignore_index=True).drop_duplicates("customer_id")
    base = points[["row", "customer_id"]].merge(known, on="customer_id", how="left").set_index("row")
    _add_attributes(out, base["attributes"].reindex(out.index))
    return out


def _stack(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The chunks' feature rows as one frame, as if built in one piece: consent columns a chunk did not
    see are False (no record means no consent) and take their sorted place, rows in point order."""
    if len(parts) == 1:
        return parts[0]
    consents = sorted({c for part in parts for c in part.columns if c.startswith("consent_")})
    first = list(parts[0].columns)
    at = next((i for i, c in enumerate(first) if c.startswith("consent_")), len(first))
    others = [c for c in first if not c.startswith("consent_")]
    columns = [*others[:at], *consents, *others[at:]]
    out = pd.concat(parts).sort_index()
    for column in consents:
        out[column] = out[column].eq(True)  # NaN: a chunk without the column
    return out[columns]


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
    if "attributes" in base.columns:  # build_features_at adds them once over all its chunks
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

    def kinds_in(self, names) -> np.ndarray:
        table = np.array([k in names for k in self.kinds], dtype=bool)
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


#: The count features in their column order; what each counts is declared in the feature registry.
COUNTED = (
    *(f"{name}_{days}" for name in ("email_opens", "email_clicks", "conversions") for days in (30, 90)),
    "unsubscribes_90",
    "calls_90",
    "dunning_notices_90",
    "sla_breaches_90",
    "payments_365",
    "deals_won_365",
    "deals_lost_365",
    "frequency_365",
)


def _add_count_features(out: pd.DataFrame, counts: pd.DataFrame, as_of: pd.Series) -> None:
    tally = _Tally(counts, out.index, as_of)
    every = tally.departments_in(DEPARTMENTS)
    for days in (30, 90):
        out[f"events_{days}"] = tally.total(every, days)
        for department in DEPARTMENTS:
            out[f"{department}_{days}"] = tally.total(tally.departments_in((department,)), days)
    for name in COUNTED:
        counted = features.get(name).counts
        out[name] = tally.total(tally.kinds_in(counted.names()), counted.days)
    out["days_since_last_event"] = tally.days_since(every)
    contact_kinds = set(events.kinds(contact=True))  # from the registry: every app's contact kinds
    out["days_since_last_contact"] = tally.days_since(tally.kinds_in(contact_kinds))
    # Recency of the same purchases and payments the frequency counts.
    out["recency_days"] = tally.days_since(tally.kinds_in(features.get("frequency_365").counts.names()))


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
    notices = state[kind.eq(DUNNING_NOTICE.kind)].drop_duplicates(["row", "invoice_id"], keep="last")
    closing = {*events.kinds(tag="invoice_closed"), *events.kinds(tag="payment")}
    closers = state[kind.isin(closing) & state["invoice_id"].notna()]
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
    tickets = state[kind.isin(events.kinds(tag="ticket")) & state["ticket_id"].notna()]
    last = tickets.drop_duplicates(["row", "ticket_id"], keep="last").set_index(["row", "ticket_id"])
    opened = tickets[tickets["kind"].eq(TICKET_OPENED.kind)].drop_duplicates(
        ["row", "ticket_id"], keep="first"
    )
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
    open_ = info[~info["last_kind"].isin(events.kinds(tag="ticket_closed"))]
    complaints_open = open_[open_["category"].eq("complaint")]
    out["open_tickets"] = open_.groupby("row").size().reindex(index, fill_value=0)
    out["open_complaints"] = complaints_open.groupby("row").size().reindex(index, fill_value=0)
    oldest = complaints_open.groupby("row")["opened_at"].min().reindex(index)
    out["complaint_open_days"] = ((as_of - oldest) / DAY).floordiv(1)
    recent = info[info["category"].eq("complaint") & info["opened_at"].notna()]
    recent_age = _age_days(as_of, recent["row"], recent["opened_at"])
    out["complaints_90"] = recent[recent_age < 90].groupby("row").size().reindex(index, fill_value=0)
    # Satisfaction: the newest score.
    csat = state[kind.eq(CSAT_RECEIVED.kind)].drop_duplicates("row", keep="last").set_index("row")
    out["last_csat"] = _num(csat["score"]).reindex(index)
    out["days_since_csat"] = ((as_of - csat["occurred_at"].reindex(index)) / DAY).floordiv(1)
    _add_deal_features(out, state, as_of)
    _add_contract_and_money(out, state, as_of)
    _add_consents(out, state)
    clicks = state[kind.eq(EMAIL_CLICKED.kind) & state["campaign"].notna()]
    clicks = clicks[_age_days(as_of, clicks["row"], clicks["occurred_at"]) < 30]
    top = clicks.groupby(["row", "campaign"]).size().rename("n").reset_index()
    top = top.sort_values(["row", "n", "campaign"], ascending=[True, False, True]).drop_duplicates("row")
    out["top_campaign_30"] = top.set_index("row")["campaign"].reindex(index).fillna("").astype(str)


def _add_deal_features(out: pd.DataFrame, state: pd.DataFrame, as_of: pd.Series) -> None:
    index = out.index
    deals = state[state["kind"].isin(events.kinds(tag="deal")) & state["deal_id"].notna()]
    first = deals.drop_duplicates(["row", "deal_id"], keep="first").set_index(["row", "deal_id"])[
        "occurred_at"
    ]
    last = deals.drop_duplicates(["row", "deal_id"], keep="last").set_index(["row", "deal_id"])
    info = pd.DataFrame({"kind": last["kind"], "stage": last["stage"], "started": first}).reset_index()
    open_ = info[~info["kind"].isin(events.kinds(tag="deal_closed"))]
    out["open_deals"] = open_.groupby("row").size().reindex(index, fill_value=0)
    newest = open_.sort_values("started").drop_duplicates("row", keep="last").set_index("row")
    out["deal_stage"] = newest["stage"].reindex(index).astype("string")
    out["deal_age_days"] = ((as_of - open_.groupby("row")["started"].min().reindex(index)) / DAY).floordiv(1)


def _add_contract_and_money(out: pd.DataFrame, state: pd.DataFrame, as_of: pd.Series) -> None:
    index = out.index
    steps, ends = events.kinds(tag="contract"), events.kinds(tag="contract_closed")
    contracts = state[state["kind"].isin(steps)].drop_duplicates("row", keep="last").set_index("row")
    last_kind = contracts["kind"].reindex(index)
    out["has_contract"] = last_kind.isin(set(steps) - set(ends))
    out["contract_cancelled"] = last_kind.isin(ends)
    # Yearly contracts: the next renewal is the next anniversary of the last start or renewal.
    since = ((as_of - contracts["occurred_at"].reindex(index)) / DAY).floordiv(1)
    to_renewal = (365 - since.mod(365)).where(out["has_contract"])
    out["days_to_renewal"] = to_renewal
    money = state[state["kind"].isin(events.received_kinds())]  # money received, as on the 360 page
    money = money[_age_days(as_of, money["row"], money["occurred_at"]) < 365]
    out["monetary_365"] = (
        _num(money["amount"]).groupby(money["row"]).sum().reindex(index).fillna(0.0).round(2)
    )


def _add_consents(out: pd.DataFrame, state: pd.DataFrame) -> None:
    consents = state[state["kind"].isin(events.kinds(tag="consent"))].dropna(subset=["channel", "purpose"])
    latest = consents.drop_duplicates(["row", "channel", "purpose"], keep="last")
    latest = latest.assign(
        given=latest["kind"].eq(CONSENT_GIVEN.kind),
        column="consent_" + latest["channel"] + "_" + latest["purpose"],
    )
    wide = latest.pivot_table(index="row", columns="column", values="given", aggfunc="last")
    columns = {f"consent_{c}_{p}" for c in CONSENT_CHANNELS for p in CONSENT_PURPOSES} | set(wide.columns)
    for column in sorted(columns):
        values = wide[column].reindex(out.index) if column in wide.columns else None
        # No record means no consent (opt-in).
        out[column] = values.fillna(False).astype(bool) if values is not None else False


def attribute_column(key: str) -> str:
    """The feature column of an imported attribute, e.g. ``emp.var.rate`` -> ``attr_emp_var_rate``."""
    return "attr_" + "".join(ch if ch.isalnum() else "_" for ch in str(key)).lower()


def _add_attributes(out: pd.DataFrame, attributes: pd.Series) -> None:
    """What data sources bring: each attribute key becomes ``attr_<key>`` (numeric or category)."""
    values = attributes.apply(lambda a: a if isinstance(a, dict) else {})
    if values.empty or not values.map(bool).any():
        return
    wide = pd.DataFrame(values.tolist(), index=out.index)
    for key in wide.columns:
        name = attribute_column(key)
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
