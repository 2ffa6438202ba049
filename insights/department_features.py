"""Current state from the department tables (billing, crm, marketing) on top of the timeline facts.

The timeline gives every feature at any moment (training needs that); the department tables are
the authority on *now*: an invoice's dunning level, a ticket's status, a contract's renewal date, a
consent with its double opt-in. For scoring, their values overlay the timeline's where the
customer has rows; for blocking facts (dunning level, open complaints) the stricter value wins.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from billing.models import Invoice, open_amount_expression
from crm.models import Contract, Ticket
from marketing.models import Consent


def _scope(ids: list[int] | None, id_range: tuple[int, int] | None) -> Q:
    if id_range is not None:
        return Q(customer_id__gte=id_range[0], customer_id__lte=id_range[1])
    if ids is None:  # every customer, as the feature builder's own scope (was: nobody, so no overlay)
        return Q()
    return Q(customer_id__in=ids)


def _frame(rows, columns) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=columns).set_index("customer_id")


def overlay(
    frame: pd.DataFrame, ids: list[int] | None, id_range: tuple[int, int] | None, now: datetime
) -> None:
    """Update ``frame`` (one row per customer, column ``customer_id``) in place; five queries."""
    scope = _scope(ids, id_range)
    today = timezone.localdate(now)
    _overlay_invoices(frame, scope, today)
    _overlay_tickets(frame, scope)
    _overlay_contracts(frame, scope, today)
    _overlay_consents(frame, scope)


def _overlay_invoices(frame: pd.DataFrame, scope: Q, today) -> None:
    customer = frame["customer_id"]
    invoices = _frame(
        Invoice.objects.open()
        .filter(scope)
        .values("customer_id")
        .annotate(
            level=Max("dunning_level"),
            owed=Sum(open_amount_expression(), filter=Q(due_date__lt=today)),
            overdue=Count("id", filter=Q(due_date__lt=today)),
        )
        .values_list("customer_id", "level", "owed", "overdue")
        .order_by(),
        ["customer_id", "level", "owed", "overdue"],
    )
    if invoices.empty:
        return
    level = customer.map(invoices["level"])
    has = level.notna()
    frame["dunning_level"] = np.maximum(frame["dunning_level"], level.fillna(0)).astype("int64")
    frame.loc[has, "overdue_amount"] = customer[has].map(invoices["owed"]).fillna(0).astype(float).round(2)
    frame.loc[has, "overdue_invoices"] = customer[has].map(invoices["overdue"]).fillna(0).astype("int64")


def _overlay_tickets(frame: pd.DataFrame, scope: Q) -> None:
    customer = frame["customer_id"]
    tickets = _frame(
        Ticket.objects.open()
        .filter(scope)
        .values("customer_id")
        .annotate(n=Count("id"), complaints=Count("id", filter=Ticket.open_complaint_q()))
        .values_list("customer_id", "n", "complaints")
        .order_by(),
        ["customer_id", "n", "complaints"],
    )
    if tickets.empty:
        return
    frame["open_tickets"] = np.maximum(frame["open_tickets"], customer.map(tickets["n"]).fillna(0)).astype(
        "int64"
    )
    frame["open_complaints"] = np.maximum(
        frame["open_complaints"], customer.map(tickets["complaints"]).fillna(0)
    ).astype("int64")


def _overlay_contracts(frame: pd.DataFrame, scope: Q, today) -> None:
    customer = frame["customer_id"]
    contracts = _frame(
        Contract.objects.active()
        .filter(scope)
        .values("customer_id")
        .annotate(renewal=Min("renewal_date"))
        .values_list("customer_id", "renewal")
        .order_by(),
        ["customer_id", "renewal"],
    )
    if contracts.empty:
        return
    active = customer.isin(contracts.index)
    frame.loc[active, "has_contract"] = True
    renewal = pd.to_datetime(customer[active].map(contracts["renewal"]))
    days = (renewal - pd.Timestamp(today)).dt.days
    frame.loc[active & days.reindex(frame.index).notna(), "days_to_renewal"] = days.dropna().astype(float)


def _overlay_consents(frame: pd.DataFrame, scope: Q) -> None:
    customer = frame["customer_id"]
    active = set(Consent.objects.active().filter(scope).values_list("pk", flat=True))
    consents = pd.DataFrame(
        list(Consent.objects.filter(scope).values_list("pk", "customer_id", "channel", "purpose").order_by()),
        columns=["pk", "customer_id", "channel", "purpose"],
    )
    if consents.empty:
        return
    consents["allowed"] = consents["pk"].isin(active)
    consents["column"] = "consent_" + consents["channel"] + "_" + consents["purpose"]
    wide = consents.pivot_table(index="customer_id", columns="column", values="allowed", aggfunc="max")
    for column in wide.columns:
        known = customer.map(wide[column])
        has = known.notna()
        if column not in frame.columns:
            frame[column] = False
        frame.loc[has, column] = known[has].astype(bool)
