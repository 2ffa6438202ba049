"""Segment rules: validation and evaluation through the core conditions registry (ORM only).

A rule is ``{"field": <condition key>, "op": <operator>, "value": ...}``. The field must be a
registered condition, the operator one the condition offers, and the value must fit the
condition's type; otherwise :class:`RuleError` names the rule. Values never reach SQL as text:
each condition builds a ``Q`` from the typed value.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from customer360.models import Customer
from customer360.registry import Condition, conditions

MAX_RULES = 30
MAX_NESTING = 3  # segments referring to segments (marketing.in_segment)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class RuleError(ValidationError):
    """A rule that cannot be evaluated; ``messages`` name the rule (number and field)."""


def _coerce(condition: Condition, value):
    kind = condition.value_type
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in _TRUE:
            return True
        if value is None or str(value).strip().lower() in _FALSE:
            return False
        raise ValueError(_("expected yes or no"))
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(_("expected a whole number"))
        try:
            return int(str(value).strip())
        except (TypeError, ValueError):
            raise ValueError(_("expected a whole number")) from None
    if kind == "decimal":
        try:
            return Decimal(str(value).strip().replace(",", "."))
        except (InvalidOperation, TypeError):
            raise ValueError(_("expected a number")) from None
    if kind == "choice":
        allowed = [str(c[0]) for c in condition.choices]
        if str(value) not in allowed:
            raise ValueError(_("expected one of %(choices)s") % {"choices": ", ".join(allowed)})
        return str(value)
    text = str(value if value is not None else "").strip()
    if not text or len(text) > 200:
        raise ValueError(_("expected a text of 1 to 200 characters"))
    return text


def _describe(index: int, rule) -> str:
    field = rule.get("field", "?") if isinstance(rule, dict) else "?"
    return _("Rule %(number)s (%(field)s)") % {"number": index + 1, "field": field}


def clean_rules(rules) -> list[dict]:
    """Validated copies of ``rules`` with typed values; raise :class:`RuleError` naming each bad rule."""
    if not isinstance(rules, list):
        raise RuleError(_("Rules must be a list."))
    if len(rules) > MAX_RULES:
        raise RuleError(_("At most %(n)s rules.") % {"n": MAX_RULES})
    errors, cleaned = [], []
    for index, rule in enumerate(rules):
        where = _describe(index, rule)
        if not isinstance(rule, dict):
            errors.append(f"{where}: " + _("a rule needs field, op and value."))
            continue
        condition = conditions.items.get(rule.get("field"))
        if condition is None:
            errors.append(f"{where}: " + _("unknown field."))
            continue
        op = rule.get("op") or "eq"
        if op not in condition.operators:
            errors.append(
                f"{where}: "
                + _("unknown operator %(op)r (allowed: %(ops)s).")
                % {"op": op, "ops": ", ".join(condition.operators)}
            )
            continue
        try:
            value = _coerce(condition, rule.get("value"))
        except ValueError as exc:
            errors.append(
                f"{where}: "
                + _("bad value %(value)r, %(reason)s.")
                % {
                    "value": rule.get("value"),
                    "reason": exc,
                }
            )
            continue
        cleaned.append({"field": condition.key, "op": op, "value": value})
    if errors:
        raise RuleError(errors)
    return cleaned


def rules_q(rules, match: str = "all", *, depth: int = 0) -> Q:
    """One ``Q`` over Customer for the rules; an empty rule list matches everybody."""
    if depth > MAX_NESTING:
        raise RuleError(_("Segments refer to each other too deeply."))
    combined = Q()
    for rule in clean_rules(rules):
        condition = conditions.items[rule["field"]]
        try:
            q = _build(condition, rule["op"], rule["value"], depth)
        except (ValueError, TypeError) as exc:
            raise RuleError(f"{rule['field']}: {exc}") from None
        combined = (combined | q) if match == "any" and combined else (combined & q)
    return combined


def _build(condition: Condition, op: str, value, depth: int) -> Q:
    # marketing.in_segment needs to know how deep it already is; other conditions take (op, value).
    if getattr(condition.build, "takes_depth", False):
        return condition.build(op, value, depth=depth + 1)
    return condition.build(op, value)


def segment_members(
    *, rules, match: str = "all", required_consent: tuple[str, str] | None = None, base=None, depth: int = 0
) -> QuerySet:
    """Customers matching ``rules``; with ``required_consent`` only those who allow that contact."""
    from marketing.models import Consent

    customers = base if base is not None else Customer.objects.all()
    customers = customers.filter(rules_q(rules, match, depth=depth))
    if required_consent:
        channel, purpose = required_consent
        customers = customers.filter(
            pk__in=Consent.objects.active().filter(channel=channel, purpose=purpose).values("customer_id")
        )
    return customers
