"""Extension points through which apps contribute to the core without the core importing them.

Apps register in their ``panels.py`` (autodiscovered when the core app is ready):

* ``panels``: blocks of the customer 360 page (key facts of one department);
* ``navigation``: entries of the main menu;
* ``header_widgets``: small templates in the page header next to the user menu (e.g. the feed's bell);
* ``navigation`` and ``nav_groups``: entries of the main menu and the menus (areas) grouping them;
* ``audiences``: which restricted timeline audiences a user belongs to;
* ``conditions``: named facts about customers as ORM conditions (segments, NBA rules, filters);
* ``brief_sources``: red flags and hints for the "before your call" brief;
* ``calendar_sources``: dated to-dos of a user (follow-ups, SLA due times) for the ICS feed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q


@dataclass(frozen=True)
class Panel:
    """A block on the 360 page. ``context(request, customer)`` returns the template context;
    ``badges`` (optional) adds badges to the page header, e.g. consent per channel.

    ``order`` sorts panels top to bottom; ``permission`` (optional) hides it from users without it.
    """

    key: str
    title: str
    template: str
    context: Callable
    order: int = 100
    department: str = ""
    permission: str = ""
    #: optional ``badges(customer) -> [{"level": "red"|"amber"|"green", "text": ...}]`` for the page header
    badges: Callable | None = None


@dataclass(frozen=True)
class NavGroup:
    """A menu of the top navigation (one per area, e.g. "Sales & Service"); its entries are the
    ``NavItem``s naming it as ``group``. A group with one visible entry shows as a plain link, so
    a role with few pages gets no menus that hold a single item."""

    key: str
    label: str
    order: int = 100


@dataclass(frozen=True)
class NavItem:
    """An entry of the top navigation; ``group`` is the key of its ``NavGroup`` (empty: top level)."""

    key: str
    label: str
    url_name: str
    order: int = 100
    permission: str = ""
    roles: tuple[str, ...] = ()
    group: str = ""


@dataclass(frozen=True)
class HeaderWidget:
    """A template included in every page's header (for signed-in users), e.g. a notification bell.
    It should load its content lazily (htmx) so that every page stays one cheap render."""

    key: str
    template: str
    order: int = 100
    permission: str = ""


@dataclass
class _Registry:
    items: dict = field(default_factory=dict)

    def register(self, item) -> None:
        self.items[item.key] = item

    def all(self) -> list:
        return sorted(self.items.values(), key=lambda item: (item.order, item.key))


panels = _Registry()
navigation = _Registry()
header_widgets = _Registry()
nav_groups = _Registry()


class _Audiences:
    """Maps an audience prefix (e.g. "collab.space") to a function listing the user's audiences."""

    def __init__(self) -> None:
        self.resolvers: dict[str, Callable[[object], Iterable[str]]] = {}

    def register(self, prefix: str, resolver: Callable[[object], Iterable[str]]) -> None:
        self.resolvers[prefix] = resolver

    def allowed_for(self, user) -> list[str]:
        """The user's audiences, computed once per user object (i.e. once per request)."""
        cached = user.__dict__.get("_c360_audiences")
        if cached is None:
            cached = []
            for resolver in self.resolvers.values():
                cached.extend(resolver(user))
            user.__dict__["_c360_audiences"] = cached
        return cached


audiences = _Audiences()


# --- Customer conditions -------------------------------------------------------------------------
# Facts about customers that any department knows, as ORM conditions over Customer. Marketing
# segments, next-best-action rules and the customer list filters use them by key, so no app has to
# import another one; customer360.conditions compiles rule trees over them (the core registers the
# customer.* conditions there). Example (billing/panels.py):
#
#     conditions.register(Condition(
#         key="billing.dunning_level", label=_("Dunning level"), department="accounting",
#         value_type="int",
#         build=lambda op, value: Q(pk__in=Invoice.objects.filter(compare("dunning_level", op, value))
#                                     .values("customer_id")),
#     ))

OPERATORS = {
    "eq": "",
    "gt": "__gt",
    "gte": "__gte",
    "lt": "__lt",
    "lte": "__lte",
    "contains": "__icontains",
}


def compare(field_name: str, op: str, value) -> Q:
    """``Q(field <op> value)`` for the operators above, plus ``ne``; unknown operators are refused."""
    if op == "ne":
        return ~Q(**{field_name: value})
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}")
    return Q(**{f"{field_name}{OPERATORS[op]}": value})


@dataclass(frozen=True)
class ListFilter:
    """How the customer list offers a condition as a filter: the query parameter, the operator
    applied to the typed number the user enters (or the value chosen), and the label next to it."""

    param: str
    op: str
    label: str
    #: optional ``choices() -> [(value, label), ...]``: the list offers a select (e.g. segments by
    #: name) instead of a number box
    choices: Callable | None = None
    #: optional ``ids(value) -> QuerySet`` of the ids of the customers the filter admits, read from
    #: the filter's own table (e.g. the scores' index). When few customers pass, the list checks
    #: their ids as one array while it walks its order, instead of one probe per walked customer.
    ids: Callable | None = None


@dataclass(frozen=True)
class Condition:
    """A named, typed fact about a customer that can be filtered on.

    ``build(op, value)`` returns a ``Q`` over ``Customer``. ``value_type`` is one of
    "bool", "int", "decimal", "str", "choice"; ``choices`` lists (value, label) for "choice".
    For "bool" conditions ``build`` receives op "eq" and value True or False.
    Rules combine conditions into trees that :mod:`customer360.conditions` compiles;
    ``list_filter`` (optional) also offers the condition on the customer list.
    """

    key: str
    label: str
    department: str
    value_type: str
    build: Callable[[str, object], Q]
    operators: tuple[str, ...] = ("eq",)
    choices: tuple = ()
    order: int = 100
    list_filter: ListFilter | None = None


conditions = _Registry()


# --- The "before your call" brief ----------------------------------------------------------------
@dataclass(frozen=True)
class BriefItem:
    """One line of the brief. ``level``: "red" (a red flag), "avoid" (do not bring this up),
    "info" (worth knowing). ``occurred_at`` lets the brief say what changed since the last contact."""

    level: str
    text: str
    department: str = ""
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class BriefSource:
    """``items(customer, user)`` returns BriefItems in a constant number of queries."""

    key: str
    items: Callable
    order: int = 100


brief_sources = _Registry()


# --- Sharing one read between a panel and a brief source -----------------------------------------
def memo(customer, key: str, compute: Callable):
    """Compute ``compute()`` once per customer object: the 360 page hands the same customer to
    every panel and brief source, so e.g. the open invoices are read once for both."""
    store = customer.__dict__.setdefault("_c360_memo", {})
    if key not in store:
        store[key] = compute()
    return store[key]


# --- The calendar feed ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CalendarEntry:
    """One event of a user's calendar feed. ``start`` is a date (all-day) or an aware datetime;
    ``uid`` is stable across fetches so calendar apps update the event instead of duplicating it."""

    uid: str
    summary: str
    start: object
    url: str = ""
    description: str = ""
    minutes: int = 30


@dataclass(frozen=True)
class CalendarSource:
    """``entries(user, customers, since)`` returns the user's CalendarEntries about ``customers``
    (the user's visible customers) from ``since`` on, in a constant number of queries."""

    key: str
    entries: Callable
    order: int = 100


calendar_sources = _Registry()
