"""Key facts of a customer for the API: the brief and each panel's context as plain JSON."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django import forms
from django.db import models

from customer360.brief import brief_for
from customer360.models import Customer
from customer360.registry import panels

_SKIP = object()


def plain(value, depth: int = 0):
    """A JSON-friendly copy of a panel context value; forms and other objects are left out."""
    if depth > 4 or isinstance(value, forms.BaseForm | forms.BaseFormSet):
        return _SKIP
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, models.Model):
        return {"id": value.pk, "label": str(value)}
    if isinstance(value, dict):
        items = {str(k): plain(v, depth + 1) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not _SKIP}
    if isinstance(value, list | tuple | set | models.QuerySet):
        items = [plain(v, depth + 1) for v in value]
        return [v for v in items if v is not _SKIP]
    return _SKIP


def key_facts(request, customer: Customer) -> dict:
    facts = {}
    for panel in panels.all():
        if panel.permission and not request.user.has_perm(panel.permission):
            continue
        value = plain(panel.context(request, customer))
        if value is not _SKIP:
            facts[panel.key] = value
    brief = brief_for(customer, request.user)
    return {
        "panels": facts,
        "brief": {
            "last_contact": brief.since.isoformat() if brief.since else None,
            "changes": brief.changes,
            **{level: [item.text for item in getattr(brief, level)] for level in ("red", "avoid", "info")},
        },
    }
