"""One condition compiler for segments, next-best-action rules and the customer list filters.

A rule is a tree: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": node}`` or a comparison
``{"field": <condition key>, "op": <operator>, "value": ...}``. :func:`clean` checks it against the
registered conditions (``customer360.registry.conditions``) and types every value; :func:`to_q`
compiles it into one ``Q`` over ``Customer``. Values never reach SQL as text: each condition builds
its ``Q`` from the typed value.

There is one meaning of "true" (:func:`truth`): yes/no words in English and German, 1/0 and on/off;
anything else is refused with a message naming the rule, never silently read as "false". Segments
used to refuse "ja" while NBA rules read every unknown word (even "maybe") as "false".

Users that evaluate some facts themselves (the NBA engine over its feature frame) pass those facts
as :class:`Fact` to :func:`clean` and walk the cleaned tree with :func:`fold`, so the tree, the
operators and the typing of values are the same everywhere.

The core owns the ``customer.*`` conditions (registered by :func:`register_customer_conditions`);
each app registers its own facts in its ``panels.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customer360.linear import any_of, negated
from customer360.models import Customer
from customer360.registry import Condition, compare, conditions
from customer360.scores import register_score_conditions

MAX_LEAVES = 30
MAX_DEPTH = 6  # all/any/not nesting inside one tree
MAX_NESTING = 3  # trees referring to other trees (a segment in a segment)
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on", "ja", "j"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "off", "nein", ""})
TEXT_OPS = ("eq", "ne", "contains")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte")
LIST_OPS = ("in", "not_in")
BOOL_OPS = ("true", "false")
NOBODY = Q(pk__in=[])


class RuleError(ValidationError):
    """A rule that cannot be evaluated; ``messages`` name each bad comparison (number and field)."""


@dataclass(frozen=True)
class Fact:
    """A typed name a rule may test that its user evaluates itself (e.g. an NBA feature column)."""

    key: str
    value_type: str
    operators: tuple[str, ...] = NUMBER_OPS
    choices: tuple = ()


def truth(value) -> bool:
    """The one reading of a yes/no value; unknown words raise ``ValueError``."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(_("expected yes or no"))


def coerce(fact, value):
    """``value`` typed for ``fact`` (a Condition or a Fact); ``ValueError`` says what was expected."""
    kind = fact.value_type
    if kind == "bool":
        return truth(value)
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(_("expected a whole number"))
        try:
            number = Decimal(str(value).strip().replace(",", "."))
        except (InvalidOperation, TypeError):
            raise ValueError(_("expected a whole number")) from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError(_("expected a whole number"))
        return int(number)
    if kind == "decimal":
        try:
            number = Decimal(str(value).strip().replace(",", "."))
        except (InvalidOperation, TypeError):
            raise ValueError(_("expected a number")) from None
        if not number.is_finite():
            raise ValueError(_("expected a number"))
        return number
    if kind == "choice":
        allowed = [str(c[0]) for c in fact.choices]
        if str(value) not in allowed:
            raise ValueError(_("expected one of %(choices)s") % {"choices": ", ".join(allowed)})
        return str(value)
    text = str(value if value is not None else "").strip()
    if not text or len(text) > 200:
        raise ValueError(_("expected a text of 1 to 200 characters"))
    return text


def from_rules(rules, match: str = "all") -> dict:
    """The tree of a flat rule list (the stored form of segments): all of them, or any of them.
    An empty list matches everybody, whatever ``match`` says."""
    if isinstance(rules, list) and not rules:
        return {"all": []}
    return {"any" if match == "any" else "all": rules}


def is_leaf(node) -> bool:
    return isinstance(node, dict) and not ({"all", "any", "not"} & node.keys())


# --- Validation ----------------------------------------------------------------------------------
class _Cleaner:
    def __init__(self, facts: Mapping[str, Fact] | None) -> None:
        self.facts = facts or {}
        self.errors: list[str] = []
        self.leaves = 0

    def node(self, node, depth: int):
        if depth > MAX_DEPTH:
            raise RuleError(_("Rules are nested too deeply."))
        if isinstance(node, dict) and ("all" in node or "any" in node):
            key = "all" if "all" in node else "any"
            children = node[key]
            if not isinstance(children, list):
                raise RuleError(_("Rules must be a list."))
            return {key: [self.node(child, depth + 1) for child in children]}
        if isinstance(node, dict) and "not" in node:
            return {"not": self.node(node["not"], depth + 1)}
        return self.leaf(node)

    def leaf(self, rule):
        self.leaves += 1
        if self.leaves > MAX_LEAVES:
            raise RuleError(_("At most %(n)s rules.") % {"n": MAX_LEAVES})
        field = rule.get("field", "?") if isinstance(rule, dict) else "?"
        where = _("Rule %(number)s (%(field)s)") % {"number": self.leaves, "field": field}
        try:
            return _clean_leaf(rule, self.facts)
        except ValueError as exc:
            self.errors.append(f"{where}: {exc}")
            return None


def _clean_leaf(rule, facts: Mapping[str, Fact]) -> dict:
    if not isinstance(rule, dict):
        raise ValueError(_("a rule needs field, op and value."))
    fact = facts.get(rule.get("field")) or conditions.items.get(rule.get("field"))
    if fact is None:
        raise ValueError(_("unknown field."))
    op = rule.get("op") or "eq"
    allowed = _operators(fact)
    if op not in allowed:
        raise ValueError(
            _("unknown operator %(op)r (allowed: %(ops)s).") % {"op": op, "ops": ", ".join(allowed)}
        )
    raw = rule.get("value")
    try:
        if op in BOOL_OPS:
            op, value = "eq", op == "true"
        elif op in LIST_OPS:
            items = raw if isinstance(raw, list | tuple) else str(raw or "").split(",")
            value = [coerce(fact, str(item).strip()) for item in items if str(item).strip()]
            if not value:
                raise ValueError(_("expected a comma-separated list"))
        else:
            value = coerce(fact, raw)
    except ValueError as exc:
        raise ValueError(_("bad value %(value)r, %(reason)s.") % {"value": raw, "reason": exc}) from None
    if fact.value_type == "bool" and op == "ne":
        op, value = "eq", not value
    return {"field": fact.key, "op": op, "value": value}


def _operators(fact) -> tuple[str, ...]:
    ops = tuple(fact.operators)
    if fact.value_type == "bool":
        return ("eq", "ne", *BOOL_OPS)
    if "eq" in ops:
        ops = (*ops, *LIST_OPS)
    return ops


def clean(node, *, facts: Mapping[str, Fact] | None = None) -> dict:
    """A validated copy of the tree with typed values; :class:`RuleError` names every bad rule."""
    if node is None or isinstance(node, str | int | float):
        raise RuleError(_("Rules must be a list."))
    if isinstance(node, list):
        node = from_rules(node)
    cleaner = _Cleaner(facts)
    cleaned = cleaner.node(node, 0)
    if cleaner.errors:
        raise RuleError(cleaner.errors)
    return cleaned


# --- Compilation ---------------------------------------------------------------------------------
def fold(node: dict, leaf: Callable, *, all_: Callable, any_: Callable, not_: Callable):
    """Walk a cleaned tree bottom-up: ``leaf(rule)`` per comparison, then combine the results."""
    if "all" in node:
        return all_([fold(child, leaf, all_=all_, any_=any_, not_=not_) for child in node["all"]])
    if "any" in node:
        return any_([fold(child, leaf, all_=all_, any_=any_, not_=not_) for child in node["any"]])
    if "not" in node:
        return not_(fold(node["not"], leaf, all_=all_, any_=any_, not_=not_))
    return leaf(node)


def _and(parts: list[Q]) -> Q:
    combined = Q()
    for part in parts:
        combined &= part
    return combined


def _or(parts: list[Q]) -> Q:
    if not parts:
        return NOBODY
    combined = parts[0]
    for part in parts[1:]:
        combined |= part
    return combined


def _build(condition: Condition, op: str, value, depth: int) -> Q:
    # A condition that evaluates other trees (a segment in a segment) needs to know how deep it is.
    if getattr(condition.build, "takes_depth", False):
        return condition.build(op, value, depth=depth + 1)
    return condition.build(op, value)


def leaf_q(rule: dict, *, depth: int = 0) -> Q:
    """The ``Q`` of one cleaned comparison over a registered condition."""
    condition = conditions.items[rule["field"]]
    op, value = rule["op"], rule["value"]
    try:
        if op in LIST_OPS:
            hit = _or([_build(condition, "eq", item, depth) for item in value])
            return hit if op == "in" else negated(hit)
        return _build(condition, op, value, depth)
    except (ValueError, TypeError) as exc:
        raise RuleError(f"{rule['field']}: {exc}") from None


def to_q(node, *, depth: int = 0) -> Q:
    """One ``Q`` over Customer for the tree (or a flat rule list, meaning all of them)."""
    if depth > MAX_NESTING:
        raise RuleError(_("Segments refer to each other too deeply."))
    return fold(
        clean(node),
        lambda rule: leaf_q(rule, depth=depth),
        all_=_and,
        any_=lambda parts: any_of(parts) if parts else NOBODY,
        not_=negated,
    )


def matching(node, *, base: QuerySet | None = None, depth: int = 0) -> QuerySet:
    """The customers (of ``base``, default all) for whom the tree holds."""
    customers = base if base is not None else Customer.objects.all()
    return customers.filter(to_q(node, depth=depth))


# --- The core's own conditions: fields of the shared customer -------------------------------------
_ATTRIBUTE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$")  # no "__": no lookups


def _text(field: str):
    """Case-insensitive text comparison on a customer field (Wien = wien)."""

    def build(op: str, value: str) -> Q:
        if op == "contains":
            return Q(**{f"{field}__icontains": value})
        same = Q(**{f"{field}__iexact": value})
        return ~same if op == "ne" else same

    return build


def _attribute(op: str, value: str) -> Q:
    key, sep, wanted = value.partition("=")
    key = key.strip()
    if not sep or not _ATTRIBUTE_KEY.match(key):
        raise ValueError(_("expected key=value, the key made of letters, digits and single underscores"))
    return compare(f"attributes__{key}", op, wanted.strip())


def register_customer_conditions() -> None:
    """The customer.* conditions: the shared customer's own fields, owned by the core."""
    for key, label, field in (
        ("customer.city", gettext_lazy("City"), "city"),
        ("customer.postcode", gettext_lazy("Postcode"), "postcode"),
    ):
        conditions.register(Condition(key, label, "system", "str", _text(field), TEXT_OPS, order=10))
    conditions.register(
        Condition(
            "customer.country",
            gettext_lazy("Country"),
            "system",
            "str",
            lambda op, value: compare("country", op, str(value).upper()),
            ("eq", "ne"),
            order=10,
        )
    )
    conditions.register(
        Condition(
            "customer.lifecycle",
            gettext_lazy("Lifecycle"),
            "system",
            "choice",
            lambda op, value: compare("lifecycle", op, value),
            ("eq", "ne"),
            choices=tuple(Customer.Lifecycle.choices),
            order=10,
        )
    )
    conditions.register(
        Condition(
            "customer.attribute",
            gettext_lazy("Attribute (key=value)"),
            "system",
            "str",
            _attribute,
            ("eq", "ne"),
            order=11,
        )
    )
    # The learned scores the core publishes: customer.score.<kind> and customer.score_band.<kind>.
    register_score_conditions()
