"""A small interpreter for declarative rules (``field op value``) over feature frames.

Operators come from a fixed whitelist; values are parsed, never evaluated. A rule over an unknown
fact is false (an eligibility rule then blocks, which is the safe side). Fields named
``condition:<key>`` use the core's registered customer conditions (one query per rule).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from customer360.models import Customer
from customer360.registry import conditions

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "true", "false")
_TRUE = {"1", "true", "yes", "ja", "y", "on"}


def parse_value(raw, series: pd.Series | None = None):
    """The rule's text value as a number, a boolean or a string, matching the column's type."""
    if isinstance(raw, bool | int | float):
        return raw
    text = str(raw).strip()
    if series is not None and pd.api.types.is_bool_dtype(series.dtype):
        return text.lower() in _TRUE
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return text


def _as_list(raw) -> list:
    if isinstance(raw, list | tuple):
        return list(raw)
    return [part.strip() for part in str(raw).split(",") if part.strip()]


def evaluate(rule: dict, frame: pd.DataFrame) -> pd.Series:
    """Boolean Series: for each row, whether the rule holds."""
    field, op, raw = rule["field"], rule["op"], rule.get("value", "")
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}")
    if field.startswith("condition:"):
        return _condition(field.split(":", 1)[1], op, raw, frame)
    if field not in frame.columns:
        return pd.Series(False, index=frame.index)
    column = frame[field]
    if op == "true":
        return column.fillna(False).astype(bool) if column.dtype != "string" else column.fillna("").ne("")
    if op == "false":
        return ~(column.fillna(False).astype(bool) if column.dtype != "string" else column.fillna("").ne(""))
    if op in ("in", "not_in"):
        items = _as_list(raw)
        if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
            items = [parse_value(i) for i in items]
        else:
            column = column.astype("string")
        hit = column.isin(items).fillna(False).astype(bool)
        return hit if op == "in" else ~hit
    value = parse_value(raw, column)
    numeric_column = pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
        column.dtype
    )
    if numeric_column and isinstance(value, str):
        return pd.Series(op == "ne", index=frame.index)
    if not numeric_column and not pd.api.types.is_bool_dtype(column.dtype):
        column = column.astype("string")
        value = str(raw).strip()
    result = {
        "eq": lambda: column == value,
        "ne": lambda: column != value,
        "gt": lambda: column > value,
        "gte": lambda: column >= value,
        "lt": lambda: column < value,
        "lte": lambda: column <= value,
    }[op]()
    return result.fillna(op == "ne").astype(bool)


def _condition(key: str, op: str, raw, frame: pd.DataFrame) -> pd.Series:
    condition = conditions.items.get(key)
    if condition is None or op not in (*condition.operators, "true", "false"):
        return pd.Series(False, index=frame.index)
    if condition.value_type == "bool" or op in ("true", "false"):
        value = op != "false" and (op == "true" or str(raw).strip().lower() in _TRUE)
        q = condition.build("eq", value)
    else:
        value = parse_value(raw)
        if condition.value_type == "int" and isinstance(value, float):
            value = int(value)
        q = condition.build(op, value)
    ids = frame["customer_id"].to_numpy()
    lo, hi = (int(ids.min()), int(ids.max())) if len(ids) else (0, -1)
    hits = set(Customer.objects.filter(q, pk__gte=lo, pk__lte=hi).values_list("pk", flat=True))
    return pd.Series(np.isin(ids, list(hits)), index=frame.index)


def all_hold(rules: Iterable[dict], frame: pd.DataFrame) -> pd.Series:
    """AND over rules; rules sharing a non-zero group form one OR term."""
    result = pd.Series(True, index=frame.index)
    groups: dict[int, pd.Series] = {}
    for rule in rules:
        hit = evaluate(rule, frame)
        group = int(rule.get("group") or 0)
        if group:
            groups[group] = groups[group] | hit if group in groups else hit
        else:
            result &= hit
    for hit in groups.values():
        result &= hit
    return result


def validate(rule: dict, known_fields: Iterable[str]) -> list[str]:
    """Problems with a rule as an admin typed it (empty list when fine)."""
    problems = []
    if rule.get("op") not in OPERATORS:
        problems.append(f"unknown operator {rule.get('op')!r}")
    field = rule.get("field", "")
    if field.startswith("condition:"):
        if field.split(":", 1)[1] not in conditions.items:
            problems.append(f"unknown condition {field!r}")
    elif field not in set(known_fields) and not field.startswith(("attr_", "consent_")):
        problems.append(f"unknown fact {field!r}")
    return problems
