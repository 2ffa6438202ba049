"""How the values of a history row read on the History pages, in the reader's language.

History rows keep values as the database stored them (status codes, ids, ISO timestamps, plain
decimals). The pages show them the way the record's own page would: a choice by its translated label,
a date, moment, number or amount through ``customer360.formatting``, yes/no, and a foreign key by the
name of what it points at (looked up once per related model and page, not per row). The CSV export
keeps the stored values (``Change.fields``).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from customer360 import formatting
from customer360.audit.history import Change, field_label

EMPTY = "–"
LONGEST = 300  # characters of a text or JSON value shown; the CSV export has them whole


def _fields_of(model) -> dict[str, models.Field]:
    return {f.attname: f for f in model._meta.concrete_fields}


def _short(text: str) -> str:
    return text if len(text) <= LONGEST else f"{text[: LONGEST - 1]}…"


def _name_of(obj) -> str:
    from customer360.models import Customer

    if isinstance(obj, get_user_model()):
        return obj.get_full_name() or obj.get_username()
    if isinstance(obj, Customer):
        return obj.display_name
    # Names of seeded catalogue rows (deal stages, actions, spaces) are translation keys, as on
    # their own pages (the ``catalogue`` filter); other names come back as they are.
    return _(str(obj)) if str(obj) else ""


def _related_names(changes: list[Change]) -> dict[tuple[type, str], str]:
    """The name of every object a foreign key of ``changes`` points at: one query per related model."""
    wanted: dict[type, set] = defaultdict(set)
    for change in changes:
        fields = _fields_of(change.model)
        for column, before, after in change.values:
            f = fields.get(column)
            if f is not None and f.many_to_one:
                wanted[f.related_model].update(str(v) for v in (before, after) if v not in (None, ""))
    names = {}
    for model, ids in wanted.items():
        for obj in model._default_manager.filter(pk__in=ids):
            names[(model, str(obj.pk))] = _name_of(obj)
    return names


def value_text(f: models.Field | None, value, row: dict, names: dict) -> str:
    """One stored value as the reader sees it (``row``: the record's other values, e.g. its currency)."""
    if value is None or value == "":
        return EMPTY
    if f is None:
        return _short(str(value))
    if f.many_to_one:
        return names.get((f.related_model, str(value))) or f"#{value}"
    if show := getattr(f, "history_display", None):  # a field's own reading, e.g. a stored role name
        return str(show(value))
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(f, models.BooleanField):
        return _("yes") if value else _("no")
    if isinstance(f, models.DateTimeField):
        return formatting.moment(value)
    if isinstance(f, models.DateField):
        return formatting.day(value)
    if isinstance(f, models.DecimalField):
        currency = row.get("currency")
        if currency and f.decimal_places == 2:
            return formatting.money(value, currency)
        return formatting.number(value, f.decimal_places)
    if isinstance(f, models.IntegerField | models.FloatField):
        return formatting.number(value)
    if isinstance(f, models.JSONField) or isinstance(value, dict | list):
        return _short(json.dumps(value, ensure_ascii=False, default=str))
    return _short(str(value))


def describe(changes: list[Change]) -> list[Change]:
    """Fill each change's ``lines`` with (label, before, after) as the reader sees them."""
    names = _related_names(changes)
    for change in changes:
        fields = _fields_of(change.model)
        change.lines = [
            (
                field_label(change.model, column),
                value_text(fields.get(column), before, change.row, names),
                value_text(fields.get(column), after, change.row, names),
            )
            for column, before, after in change.values
        ]
    return changes


# --- the access log's "what" -------------------------------------------------------------------------
#: What ``record_access`` callers store (English, stable for exports and filters); each a translation
#: key, shown in the reader's language.
ACCESS_WHAT = {
    value: value
    for value in (
        gettext_noop("customer page"),
        gettext_noop("customer list"),
        gettext_noop("access log"),
        gettext_noop("change history"),
        gettext_noop("subject export"),
        gettext_noop("activity list"),
        gettext_noop("deal list"),
        gettext_noop("ticket list"),
        gettext_noop("invoice list"),
        gettext_noop("dunning overview"),
        gettext_noop("requests"),
        gettext_noop("api customer"),
        gettext_noop("api customers"),
        gettext_noop("api timeline"),
    )
}
ACCESS_WHAT["subject_export"] = ACCESS_WHAT["subject export"]  # the spelling of older rows
#: Stored values with a part that names something (a chart, a run, a segment).
ACCESS_WHAT_PATTERNS = (
    (re.compile(r"^chart (?P<chart>\S+)$"), gettext_noop("chart %(chart)s")),
    (re.compile(r"^drill-down (?P<chart>\S+)(?P<rest>.*)$"), gettext_noop("drill-down %(chart)s%(rest)s")),
    (re.compile(r"^import errors run (?P<run>\d+)$"), gettext_noop("import errors of run %(run)s")),
    (re.compile(r"^segment (?P<segment>\d+) members$"), gettext_noop("members of segment %(segment)s")),
)


def access_what(value: str) -> str:
    """An access log entry's stored ``what`` in the active language (unknown values as stored)."""
    if value in ACCESS_WHAT:
        return _(ACCESS_WHAT[value])
    for pattern, message in ACCESS_WHAT_PATTERNS:
        if match := pattern.match(value):
            return _(message) % match.groupdict()
    return value
