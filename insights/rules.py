"""NBA rules as condition trees of the core compiler (customer360.conditions), read over a frame.

An action's rule rows form one tree per kind: every row must hold, and rows sharing a non-zero
"any-of group" form one ``any``. The core checks and types each comparison (one meaning of true,
the same operators as segments). Two kinds of fact can be tested:

* a feature (a column of the feature frame, see insights.features): compared on the frame,
  because features are computed in pandas (point-in-time, also for training), not stored in SQL;
* a registered customer condition (``condition:<key>``): compiled by the core to a ``Q`` and read
  in one query per rule for the frame's customers.

A stored rule that no longer validates (a renamed feature, a value that is no number) holds for
nobody: an eligibility rule then blocks, which is the safe side.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from customer360 import conditions as compiler
from customer360.models import Customer
from customer360.registry import conditions
from insights.features import features

CONDITION_PREFIX = "condition:"
_VALUE_TYPES = {"num": "decimal", "bool": "bool", "cat": "str", "text": "str"}
# "is true"/"is false" on a number or a text (non-zero, non-empty) stay allowed for stored rules.
_OPERATORS = {
    "num": (*compiler.NUMBER_OPS, *compiler.BOOL_OPS),
    "bool": ("eq",),
    "cat": ("eq", "ne", *compiler.BOOL_OPS),
    "text": ("eq", "ne", *compiler.BOOL_OPS),
}


def _leaf(rule: dict) -> dict:
    field = str(rule.get("field", ""))
    if field.startswith(CONDITION_PREFIX):
        field = field[len(CONDITION_PREFIX) :]
    return {"field": field, "op": rule.get("op"), "value": rule.get("value", "")}


def _facts(field: str) -> dict[str, compiler.Fact]:
    """The feature named ``field`` as a typed fact for the compiler (none for a condition key)."""
    feature = features.get(field)
    if feature is None or field in conditions.items:
        return {}
    return {field: compiler.Fact(field, _VALUE_TYPES[feature.kind], _OPERATORS[feature.kind])}


def cleaned(rule: dict) -> dict:
    """The rule as a typed comparison; raises ``compiler.RuleError`` naming what is wrong."""
    leaf = _leaf(rule)
    return compiler.clean(leaf, facts=_facts(leaf["field"]))


def evaluate(rule: dict, frame: pd.DataFrame) -> pd.Series:
    """Boolean Series: for each row, whether the rule holds (never, when it does not validate)."""
    try:
        leaf = cleaned(rule)
    except compiler.RuleError:
        return pd.Series(False, index=frame.index)
    if leaf["field"] in conditions.items:
        return _condition(leaf, frame)
    if leaf["field"] not in frame.columns:
        return pd.Series(False, index=frame.index)
    return _column(leaf, frame[leaf["field"]])


def _truth(column: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(column.dtype) or column.dtype == object:
        return column.fillna("").astype("string").ne("").astype(bool)
    return column.fillna(False).astype(bool)


def _column(leaf: dict, column: pd.Series) -> pd.Series:
    op, value = leaf["op"], leaf["value"]
    if isinstance(value, bool):
        held = _truth(column)
        return held if value else ~held
    numeric = pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)
    if op in compiler.LIST_OPS:
        items = [float(v) for v in value] if numeric else [str(v) for v in value]
        hit = (column if numeric else column.astype("string")).isin(items).fillna(False).astype(bool)
        return hit if op == "in" else ~hit
    if numeric:
        value = float(value)
    else:
        column, value = column.astype("string"), str(value)
    result = {
        "eq": lambda: column == value,
        "ne": lambda: column != value,
        "gt": lambda: column > value,
        "gte": lambda: column >= value,
        "lt": lambda: column < value,
        "lte": lambda: column <= value,
    }[op]()
    return result.fillna(op == "ne").astype(bool)


def _condition(leaf: dict, frame: pd.DataFrame) -> pd.Series:
    """A registered condition, compiled by the core, read for the frame's id range in one query."""
    try:
        q = compiler.leaf_q(leaf)
    except compiler.RuleError:
        return pd.Series(False, index=frame.index)
    ids = frame["customer_id"].to_numpy()
    lo, hi = (int(ids.min()), int(ids.max())) if len(ids) else (0, -1)
    hits = set(Customer.objects.filter(q, pk__gte=lo, pk__lte=hi).values_list("pk", flat=True))
    return pd.Series(np.isin(ids, list(hits)), index=frame.index)


def tree(rules: Iterable[dict]) -> dict:
    """The condition tree of rule rows: all of them, rows of one non-zero group as one ``any``."""
    top: list = []
    groups: dict[int, list] = {}
    for rule in rules:
        group = int(rule.get("group") or 0)
        if group:
            groups.setdefault(group, []).append(rule)
        else:
            top.append(rule)
    return {"all": [*top, *({"any": members} for members in groups.values())]}


def all_hold(rules: Iterable[dict], frame: pd.DataFrame) -> pd.Series:
    """Whether the tree of ``rules`` holds, per row (an empty rule list holds everywhere)."""
    return compiler.fold(
        tree(rules),
        lambda rule: evaluate(rule, frame),
        all_=lambda parts: _combine(parts, frame, all),
        any_=lambda parts: _combine(parts, frame, any),
        not_=lambda part: ~part,
    )


def _combine(parts: list[pd.Series], frame: pd.DataFrame, how) -> pd.Series:
    if not parts:
        return pd.Series(how == all, index=frame.index)
    result = parts[0]
    for part in parts[1:]:
        result = (result & part) if how is all else (result | part)
    return result


def validate(rule: dict) -> list[str]:
    """Problems with a rule as an admin typed it (empty list when fine)."""
    try:
        cleaned(rule)
    except compiler.RuleError as exc:
        return [message.split(": ", 1)[-1] for message in exc.messages]
    return []
