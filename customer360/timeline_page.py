"""Keyset pagination and filters for a customer's timeline, shared by the page and the API."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from django.db.models import Q
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from customer360 import events
from customer360.models import Channel, Customer, Department, TimelineEvent

PAGE_SIZE = 25


_kind_choices: dict[str, list[tuple[str, str]]] = {}


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """The timeline filter options: departments and channels from the core's choices, kinds from
    the registry of declared kinds (labels in the reader's language, sorted once per language), so
    no list names a department."""
    language = translation.get_language() or ""
    kinds = _kind_choices.get(language)
    if kinds is None or len(kinds) != len(events.all_kinds()):
        kinds = sorted(((k.kind, str(k.label)) for k in events.all_kinds()), key=lambda pair: pair[1].lower())
        _kind_choices[language] = kinds
    return {"departments": Department.choices, "channels": Channel.choices, "kinds": kinds}


def encode_cursor(event: TimelineEvent) -> str:
    raw = f"{event.occurred_at.isoformat()}|{event.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        stamp, pk = raw.rsplit("|", 1)
        moment = parse_datetime(stamp)
        return (moment, int(pk)) if moment else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def filtered_events(user, customer: Customer, params) -> tuple:
    """The user's visible events of one customer, with the department/channel/kind/q filters."""
    events = TimelineEvent.objects.visible_to(user, customer=customer)
    filters = {}
    for name in ("department", "channel", "kind"):
        value = params.get(name, "").strip()
        if value:
            filters[name] = value
            if name == "kind" and value.endswith("."):
                events = events.filter(kind__startswith=value)
            else:
                events = events.filter(**{name: value})
    query = params.get("q", "").strip()
    if query:
        filters["q"] = query
        events = events.filter(Q(title__icontains=query) | Q(summary__icontains=query))
    return events, filters


def page_after(events, cursor: str, size: int = PAGE_SIZE) -> tuple[list[TimelineEvent], str | None]:
    """Newest first; ``cursor`` marks the last event already shown. Never OFFSET."""
    position = decode_cursor(cursor) if cursor else None
    if position:
        moment, pk = position
        events = events.filter(Q(occurred_at__lt=moment) | Q(occurred_at=moment, id__lt=pk))
    rows = list(events.select_related("actor").order_by("-occurred_at", "-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)


@dataclass
class TimelinePage:
    events: list[TimelineEvent]
    next_cursor: str | None
    filters: dict
    is_first_page: bool

    @classmethod
    def from_request(cls, request, customer: Customer) -> TimelinePage:
        events, filters = filtered_events(request.user, customer, request.GET)
        cursor = request.GET.get("cursor", "")
        rows, next_cursor = page_after(events, cursor)
        return cls(events=rows, next_cursor=next_cursor, filters=filters, is_first_page=not cursor)

    @property
    def days(self):
        """Events grouped by local calendar day, newest day first."""
        return [
            (day, list(items))
            for day, items in groupby(self.events, key=lambda e: timezone.localtime(e.occurred_at).date())
        ]
