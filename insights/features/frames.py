"""Frames from the database for the feature builder: customers, event counts and "state" events.

For scoring they come from SQL aggregates at one moment (``now``); for training from raw events at
each example's own moment (``as_of``, strictly before), so nothing from the future leaks in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import BigIntegerField, CharField, Count, F, Func, Max, Q
from django.db.models.fields.json import KeyTextTransform

from customer360 import events
from customer360.models import Customer, TimelineEvent
from marketing.events import TOUCHES
from marketing.models import ConsentChannel, Touch

DEPARTMENTS = ("sales", "service", "marketing", "accounting")
#: The campaign a customer clicked in an e-mail (``top_campaign_30``) is read from these events' payload.
EMAIL_CLICKED = TOUCHES[(ConsentChannel.EMAIL, Touch.Status.CLICKED)]


def state_kinds() -> tuple[str, ...]:
    """The kinds whose payload the features read: every ``state`` kind of the registry (dunning
    notices, ticket, deal and contract steps, payments, consents, ratings), every ``revenue`` kind
    (its amount: imported orders too) and e-mail clicks."""
    return tuple(sorted({*events.kinds(tag="state"), *events.kinds(tag="revenue"), EMAIL_CLICKED.kind}))


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
    """Core customer columns (one query). Erased people are left out: their anonymised events must
    not feed features, scores or recommendations (the marker is the core's)."""
    qs = Customer.objects.not_erased()
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
    kinds = state_kinds()
    if connection.vendor == "postgresql":
        # ``kind || ''`` keeps the planner on the customer index: with the kind index it ANDs
        # ~40 % of the whole table into a bitmap for every chunk (3-4x slower).
        qs = qs.alias(kind_text=Unindexed("kind")).filter(kind_text__in=kinds)
    else:
        qs = qs.filter(kind__in=kinds)
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
    rows = _rows(
        TimelineEvent.objects.filter(_event_scope(customer_ids, None))
        .annotate(moment=_moment("occurred_at"))
        .values_list("customer_id", "department", "kind", "moment")
        .order_by()
    )
    frame = pd.DataFrame(rows, columns=["customer_id", "department", "kind", "occurred_at"])
    frame = frame[frame["customer_id"].isin(customer_ids)].copy()
    frame["occurred_at"] = _utc(frame["occurred_at"])
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
