"""The customer list: filters (including facts of other departments through the conditions
registry), sorting and keyset pagination that stays fast deep into the list."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from customer360 import conditions as compiler
from customer360 import linear, scores, search
from customer360.models import Customer
from customer360.registry import ListFilter, conditions

PAGE_SIZE = 50

# sort key -> ordering fields (the last one is always the unique id)
SORTS = {
    "name": ("last_name", "first_name", "id"),
    "-created": ("-created_at", "-id"),
    "number": ("customer_number", "id"),
}
SORT_LABELS = {"name": _("Name"), "-created": _("Newest first"), "number": _("Customer number")}


# Columns of the list a user (or a saved view) can show; the customer's name is always there.
COLUMNS = {
    "company": _("Company"),
    "city": _("City"),
    "owner": _("Owner"),
    "lifecycle": _("Lifecycle"),
    "email": _("E-mail"),
    "phone": _("Phone"),
}
DEFAULT_COLUMNS = ("company", "city", "owner", "lifecycle")


def chosen_columns(params) -> list[str]:
    getlist = getattr(params, "getlist", None)
    raw = getlist("cols") if getlist else params.get("cols", [])
    chosen = [c for c in COLUMNS if c in raw]
    return chosen or list(DEFAULT_COLUMNS)


def available_condition_filters() -> list[ListFilter]:
    """The list filters the apps registered with their conditions (see ``Condition.list_filter``)."""
    return [c.list_filter for c in conditions.all() if c.list_filter is not None]


#: A filter that admits at most this many customers (read from its own table, ``ListFilter.ids``) is
#: checked as one array of their ids while the list walks its order. At a million customers, "churn
#: risk at least 80 %" (5,400 customers) probed the scores for 23,000 walked customers: 100-160 ms.
FEW = 50_000


def _admitted(f: ListFilter, value, condition: Q) -> Q:
    """``condition``, or the same customers as an array of ids when the filter admits few (``value``:
    as the condition compiler typed it, e.g. 80.5 for "80,5")."""
    if f.ids is None:
        return condition
    ids = linear.read_ids(f.ids(value), FEW)
    return condition if ids.count > FEW else linear.among_ids(ids)


def _condition_filters(params) -> tuple[Q, dict]:
    """The registered filters the request sets, compiled by the core's condition compiler; a value
    that does not fit the condition (a word where a number belongs) is ignored, like an empty one."""
    combined, active = Q(), {}
    for condition in conditions.all():
        f = condition.list_filter
        raw = params.get(f.param, "").strip() if f else ""
        if not raw:
            continue
        try:
            rule = compiler.clean({"field": condition.key, "op": f.op, "value": raw})
        except compiler.RuleError:
            continue
        combined &= _admitted(f, rule["value"], compiler.to_q(rule))
        active[f.param] = raw
    return combined, active


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


def filtered_customers(
    user, params, *, among: QuerySet[Customer] | None = None
) -> tuple[QuerySet[Customer], dict]:
    """The customers of the list's filters and search, among those ``user`` may see (``among``: a
    given set instead, whose visibility the caller checks; see :func:`_best_visible_matches`)."""
    customers = Customer.objects.visible_to(user) if among is None else among
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
    condition_q, condition_active = _condition_filters(params)
    active.update(condition_active)
    return customers.filter(condition_q), active


def ordered(customers: QuerySet[Customer], sort: str) -> tuple[QuerySet[Customer], tuple[str, ...]]:
    """``customers`` in the order of ``sort`` and the fields of that order (for keyset pages)."""
    fields = SORTS.get(sort, SORTS["name"])
    if fields == SORTS["name"]:
        return search.by_name(customers), search.NAME_ORDER
    return customers.order_by(*fields), fields


#: A list search ranks this many of its matches before asking which of them the user may see.
RANKED_FIRST = 4 * (PAGE_SIZE + 1)


#: How many more matches than it ranks a list search reads when it bounds them (:func:`_first_share`).
SAFETY = 3
#: A match read by a bitmap scan (its table page and the recheck of the search) costs about this
#: many entries of a bitmap of the order index (at a million customers: 3.5 µs and 0.16 µs).
MATCH_COST = 20


def _first_share(found: search.Narrowed, sort: str, fields: tuple[str, ...]) -> Q | None:
    """A bound on the list's first order field that about ``SAFETY`` x ``RANKED_FIRST`` of a search's
    matches lie within, read off the sample of matches :func:`search.narrow` took (in the table's
    physical order, so in no order of names or dates). PostgreSQL then ANDs the bitmap of that range
    of its order index with the search's bitmaps and reads only the matches within it: "Eber" (27,000
    matches at a million customers) read them all, 85-100 ms. None when the sample is too small to
    bound anything, or when the matches lie together in the order ("Hofi": 4,000 matches, nearly all
    names beginning so) and the range's bitmap would cost more than the matches it leaves out; the
    caller ranks every match when the bound holds fewer than it ranks."""
    kept = SAFETY * RANKED_FIRST
    position = int(len(found.sample) * kept / found.estimate) if found.sample else 0
    if not found.sample or position >= len(found.sample):
        return None
    name = fields[0].lstrip("-")
    sampled, _fields = ordered(Customer.objects.filter(pk__in=found.sample), sort)
    edge = sampled.values_list(name, flat=True)[position]
    bound = Q(**{f"{name}__{'gte' if fields[0].startswith('-') else 'lte'}": edge})
    within = _planned_rows(ordered(Customer.objects.all(), sort)[0].filter(bound))
    return bound if within < MATCH_COST * (found.estimate - kept) else None


def _planned_rows(customers: QuerySet[Customer]) -> float:
    """PostgreSQL's estimate of the rows of ``customers``, from its statistics (no row is read)."""
    plan = json.loads(customers.order_by().values("pk").explain(format="json"))
    return plan[0]["Plan"]["Plan Rows"]


def _best_visible_matches(user, params, sort: str, values: list | None) -> list[int] | None:
    """Ids of a list search's page (up to ``PAGE_SIZE`` + 1 customers, from the keyset ``values``
    on): the matches are ranked in the list's order first, and only the best ``RANKED_FIRST`` of them
    are checked against ``Customer.objects.visible_to(user)``. Checking every match where it is read
    cost 3.5 microseconds each (13,000 matches of "Schi" at a million customers: 45 ms) for users who
    see most of them. None when fewer than a page of the best matches is visible (the user sees a
    small part of the customers): the list then reads the visible matches directly."""
    matches, active = filtered_customers(user, params, among=Customer.objects.all())
    found = search.narrow(matches, active["q"])
    ranked, fields = ordered(found.customers, sort)
    if values is not None:
        ranked = ranked.filter(_after(fields, values))
    bound = _first_share(found, sort, fields) if values is None else None
    with search.scans(ranked.db, found.scans):
        candidates = list(ranked.filter(bound).values_list("pk", flat=True)[:RANKED_FIRST]) if bound else []
        if len(candidates) < RANKED_FIRST:  # no bound, or fewer matches within it than ranked
            candidates = list(ranked.values_list("pk", flat=True)[:RANKED_FIRST])
    visible = set(Customer.objects.visible_to(user).filter(pk__in=candidates).values_list("pk", flat=True))
    chosen = [pk for pk in candidates if pk in visible][: PAGE_SIZE + 1]
    if len(chosen) <= PAGE_SIZE and len(candidates) == RANKED_FIRST:
        return None
    return chosen


def _rows(user, params, customers: QuerySet[Customer], active: dict, sort: str, values: list | None):
    """Up to ``PAGE_SIZE`` + 1 of ``customers`` (the user's, filtered) in the order of ``sort``, after
    the keyset ``values``; and the fields of that order."""
    chosen = _best_visible_matches(user, params, sort, values) if "q" in active else None
    if chosen is not None:
        customers, scans = Customer.objects.filter(pk__in=chosen), "bitmap"
    elif "q" in active:
        customers, scans = search.narrow(customers, active["q"])[:2]
    else:
        scans = None
    customers, fields = ordered(customers.select_related("owner"), sort)
    if values is not None and chosen is None:
        customers = customers.filter(_after(fields, values))
    with search.scans(customers.db, scans):
        return list(customers[: PAGE_SIZE + 1]), fields


def page(user, params) -> dict:
    customers, active = filtered_customers(user, params)
    sort = params.get("sort", "name")
    fields = ordered(customers, sort)[1]
    cursor = params.get("cursor", "")
    values = _decode(cursor, fields) if cursor else None
    rows, fields = _rows(user, params, customers, active, sort, values)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _encode([getattr(last, f.lstrip("-")) for f in fields])
    return {
        "columns": chosen_columns(params),
        "customers": rows,
        "next_cursor": next_cursor,
        "active": active,
        "sort": sort if sort in SORTS else "name",
    }


EXPORT_COLUMNS = (
    (_("Customer number"), "customer_number"),
    (_("Last name"), "last_name"),
    (_("First name"), "first_name"),
    (_("Company"), "company"),
    (_("E-mail"), "email"),
    (_("Phone"), "phone"),
    (_("Street"), "street"),
    (_("Postcode"), "postcode"),
    (_("City"), "city"),
    (_("Country"), "country"),
    (_("Lifecycle"), "lifecycle"),
    (_("Owner"), "owner__username"),
    (_("Created"), "created_at"),
)


# The learned risks the core publishes, in percent (empty when not scored).
SCORE_EXPORT_COLUMNS = (
    (_("Churn risk (%)"), scores.CHURN_RISK),
    (_("Payment risk (%)"), scores.PAYMENT_RISK),
)


def _export_value(value, i: int, lifecycle_at: int, lifecycles: dict, first_score: int):
    if i == lifecycle_at:
        return str(lifecycles.get(value, value))
    if i >= first_score and value is not None:
        return round(value * 100, 1)
    return value


def customer_table(customers: QuerySet[Customer]) -> tuple[list[str], object]:
    """Header and (customer ids, row) records of ``customers`` in their given order, for
    ``exports.logged_export_response`` (also the segment members' export)."""
    lifecycles = dict(Customer.Lifecycle.choices)
    paths = [path for _label, path in EXPORT_COLUMNS]
    lifecycle_at, first_score = paths.index("lifecycle"), len(paths)
    for _label, kind in SCORE_EXPORT_COLUMNS:
        customers = scores.with_score(customers, kind, f"export_{kind}")
        paths.append(f"export_{kind}")
    records = (
        ([pk], [_export_value(v, i, lifecycle_at, lifecycles, first_score) for i, v in enumerate(row)])
        for pk, *row in customers.values_list("pk", *paths).iterator(chunk_size=2000)
    )
    labels = [*EXPORT_COLUMNS, *SCORE_EXPORT_COLUMNS]
    return [str(label) for label, _path in labels], records


def export_table(user, params) -> tuple[list[str], object]:
    """The current filter and sort of the list, all pages."""
    customers, _active = filtered_customers(user, params)
    return customer_table(ordered(customers, params.get("sort", "name"))[0])
