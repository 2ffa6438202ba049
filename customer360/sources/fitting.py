"""Does a mapped value fit the column that stores it? Checked per row before anything is written.

A value the database cannot hold ("United Kingdom" for a two-letter country, a 120-character city,
"VIP" for a lifecycle) used to reach the bulk insert and fail the whole chunk with a raw database
error. :class:`FieldFit` reads each target field's model column once (``TargetField.model``:
its ``max_length``, its ``choices`` and its type) and turns such a value into a :class:`RowError`
of that row alone: the column, the value and the reason. The preview, the file run and the REST
API all call it, so "no errors" in the preview means no such error in the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _

from customer360.sources.mapping import CoercionError, RowError, coerce, entry_label
from customer360.text import fold

#: model field class -> (mapping type that converts a text to it, the Python types it holds)
_TYPED = (
    (models.DateTimeField, "datetime", (datetime,)),
    (models.DateField, "date", (date,)),
    (models.DecimalField, "decimal", (Decimal, int)),
    (models.IntegerField, "int", (int,)),
    (models.FloatField, "decimal", (float, int, Decimal)),
    (models.BooleanField, "bool", (bool,)),
)


@dataclass(frozen=True)
class _Limit:
    max_length: int | None
    choices: dict[str, str] | None  # value, folded value and folded label (en, de) -> value
    type_name: str
    python_types: tuple[type, ...]


@cache
def _limit(model_label: str, name: str) -> _Limit | None:
    try:
        field = apps.get_model(model_label)._meta.get_field(name)
    except (LookupError, FieldDoesNotExist):
        return None
    choices = None
    if field.choices:
        choices = {}
        for language in ("de", "en"):
            with translation.override(language):
                for value, label in field.flatchoices:
                    choices[fold(str(label))] = value
        for value, _label in field.flatchoices:
            choices[fold(str(value))] = value
            choices[str(value)] = value
    type_name, python_types = next(((t, p) for cls, t, p in _TYPED if isinstance(field, cls)), ("", ()))
    max_length = getattr(field, "max_length", None) if isinstance(field, models.CharField) else None
    return _Limit(max_length, choices, type_name, python_types)


class FieldFit:
    """``FieldFit(target, entries).errors(values)``: the values that do not fit their column,
    as row errors; a choice written as its label ("Kunde", "E-Mail") becomes its value in place."""

    def __init__(self, target, entries: list[dict]) -> None:
        labels = {}
        for entry in entries:
            if entry.get("field"):
                labels.setdefault(entry["field"], entry_label(entry) or entry["field"])
        # Only the fields the entries fill: a mapped row has no other values (a 10,000-record API
        # request naming four fields checks one, not the sixteen its target declares).
        self.checks = [
            (f.name, labels[f.name], limit)
            for f in target.fields
            if f.model and f.name in labels and (limit := _limit(f.model, f.name)) is not None
        ]

    def errors(self, values: dict) -> list[RowError]:
        problems = []
        for name, label, limit in self.checks:
            value = values.get(name)
            if value is None or value == "":
                continue
            fitted, problem = _fit(value, limit)
            if problem:
                problems.append(RowError(label, str(value), problem))
            elif fitted is not value:
                values[name] = fitted
        return problems


def _fit(value, limit: _Limit):
    """``(value, "")`` when it fits (converted if needed), else ``(value, reason)``."""
    if limit.python_types and not isinstance(value, limit.python_types):
        try:
            value = coerce(str(value), limit.type_name)
        except CoercionError as exc:
            return value, str(exc)
        return value, ""
    if limit.choices is not None:
        text = str(value)
        chosen = limit.choices.get(text) or limit.choices.get(fold(text))
        if chosen is None:
            allowed = ", ".join(dict.fromkeys(limit.choices.values()))
            return value, _("is not one of %(allowed)s") % {"allowed": allowed}
        return chosen, ""
    if limit.max_length is not None and len(str(value)) > limit.max_length:
        return value, _("is longer than %(limit)s characters") % {"limit": limit.max_length}
    return value, ""
