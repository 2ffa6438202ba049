"""The customer list: filters (including facts of other departments through the conditions
registry), sorting and keyset pagination that stays fast deep into the list."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from customer360 import search
from customer360.models import Customer
from customer360.registry import conditions
from customer360.text import whole_number

PAGE_SIZE = 50

# sort key -> ordering fields (the last one is always the unique id)
SORTS = {
    "name": ("last_name", "first_name", "id"),
    "-created": ("-created_at", "-id"),
    "number": ("customer_number", "id"),
}
SORT_LABELS = {"name": _("Name"), "-created": _("Newest first"), "number": _("Customer number")}


@dataclass(frozen=True)
class ConditionFilter:
    """A list filter backed by a registered condition (shown only when the condition exists)."""

    param: str
    condition_key: str
    op: str
    label: str
    value_type: str = "int"


CONDITION_FILTERS = [
    ConditionFilter("dunning_level", "billing.dunning_level", "gte", _("Dunning level at least")),
    ConditionFilter("open_tickets", "crm.open_tickets", "gte", _("Open tickets at least")),
    ConditionFilter("segment", "marketing.in_segment", "eq", _("Segment"), value_type="int"),
]


def available_condition_filters() -> list[ConditionFilter]:
    return [f for f in CONDITION_FILTERS if f.condition_key in conditions.items]


def _encode(values: list) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str, fields: tuple[str, ...]) -> list | None:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(fields):
        return None
    return [
        parse_datetime(v) if f.lstrip("-") == "created_at" and isinstance(v, str) else v
        for f, v in zip(fields, values, strict=True)
    ]


def _after(fields: tuple[str, ...], values: list) -> Q:
    """Rows strictly after ``values`` in the ordering ``fields`` (lexicographic keyset condition)."""
    condition = Q(pk__in=[])
    equal = Q()
    for field, value in zip(fields, values, strict=True):
        name = field.lstrip("-")
        step = Q(**{f"{name}__lt" if field.startswith("-") else f"{name}__gt": value})
        condition |= equal & step
        equal &= Q(**{name: value})
    return condition


def filtered_customers(user, params) -> tuple[QuerySet[Customer], dict]:
    customers = Customer.objects.visible_to(user)
    active: dict = {}
    query = params.get("q", "").strip()
    if query:
        customers = search.filter_customers(customers, query)
        active["q"] = query
    for name in ("lifecycle", "country"):
        value = params.get(name, "").strip()
        if value:
            value = value.upper() if name == "country" else value
            customers = customers.filter(**{name: value})
            active[name] = value
    owner = params.get("owner", "")
    if owner == "me":
        customers = customers.filter(owner=user)
        active["owner"] = owner
    elif owner == "none":
        customers = customers.filter(owner__isnull=True)
        active["owner"] = owner
    for f in available_condition_filters():
        raw = params.get(f.param, "").strip()
        if whole_number(raw) is not None:
            condition = conditions.items[f.condition_key]
            customers = customers.filter(condition.build(f.op, whole_number(raw)))
            active[f.param] = raw
    return customers, active


def page(user, params) -> dict:
    customers, active = filtered_customers(user, params)
    sort = params.get("sort", "name")
    fields = SORTS.get(sort, SORTS["name"])
    customers = customers.select_related("owner").order_by(*fields)
    cursor = params.get("cursor", "")
    values = _decode(cursor, fields) if cursor else None
    if values is not None:
        customers = customers.filter(_after(fields, values))
    rows = list(customers[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _encode([getattr(last, f.lstrip("-")) for f in fields])
    return {
        "customers": rows,
        "next_cursor": next_cursor,
        "active": active,
        "sort": sort if sort in SORTS else "name",
    }
