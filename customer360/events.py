"""Declared event kinds: one declaration per kind, read by everything that writes or reads events.

Each app declares the kinds it records in its own ``events.py`` (autodiscovered by the core)::

    REPAIR_BOOKED = events.declare(
        "repair.booked",
        department=Department.SERVICE,
        channel=Channel.WEB,
        direction=Direction.INBOUND,
        contact=True,
        tags={"customer_text"},
        label=_("Repair booked"),
        fields=[Field("number"), Field("subject")],
        title=_("Repair %(number)s booked: %(subject)s"),
    )

Services, imports and demo seeders build their events through the declaration
(``REPAIR_BOOKED.event(...)`` for :func:`customer360.timeline.record_many`, ``REPAIR_BOOKED.record(...)``
for one), so title, payload fields, channel and audience are the same on every path. The stored
``title``/``summary`` are the English rendering (search and a fallback); pages render the title in
the reader's language and number formats at read time from the payload (:func:`render`). An event of
an undeclared kind (an imported custom event), or one whose payload lacks a declared field, keeps
its stored text.

The core, the features, the dashboards and the listening read kind sets from here (:func:`kinds`),
never as string literals (a test greps for them); where one kind is meant, its declaration is
imported (``DEAL_WON.kind``). ``contact=True`` marks a contact with the customer (the brief's "last
contact"). The tags, a small vocabulary with one meaning each:

- record status: ``"ticket"``, ``"deal"``, ``"contract"``, ``"invoice"``: the kind is a step in that
  record's status (opened, moved, renewed, issued ...) and its payload names the record
  (``ticket_id`` ...); ``"ticket_closed"``, ``"deal_closed"``, ``"contract_closed"``,
  ``"invoice_closed"``: the step ends it (solved or closed, won or lost, cancelled, paid or cancelled);
- ``"state"``: the payload tells a record's current state (level, stage, status, score, consent);
  the features read the newest one per record;
- ``"complaint"``: a ticket kind that is a complaint when its payload's ``category`` says so;
- ``"purchase"``: the customer bought or renewed; ``"payment"``: money came in; ``"revenue"``: the
  payload's ``amount`` counts as revenue (a won deal, a payment; not the paid invoice as well);
- ``"dunning"``: a dunning notice went out; ``"consent"``: a consent changed;
- ``"touch"`` with the touch's status (``"sent"``, ``"opened"``, ``"clicked"`` ...): a campaign touch;
- ``"customer_text"``: the summary holds the customer's words or words about them (listening).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.core.signals import setting_changed
from django.db.models import DecimalField, Q, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.dispatch import receiver
from django.utils import translation

from customer360 import timeline
from customer360.formatting import day, day_in, money, money_in, number, number_in  # noqa: F401  (re-exported for declarations)
from customer360.models import TimelineEvent

logger = logging.getLogger(__name__)


# --- formatting of payload values in the reader's locale: customer360.formatting, one path for all -----


def _text(value: Any, payload: dict, language: str | None) -> str:
    return "" if value is None else str(value)


# (value, payload, the active language) -> text
_FORMATS: dict[str, Callable[[Any, dict, str | None], str]] = {
    "text": _text,
    "money": lambda value, payload, language: money_in(language, value, payload.get("currency", "EUR")),
    "number": lambda value, payload, language: number_in(language, value),
    "int": lambda value, payload, language: number_in(language, value, 0),
    "date": lambda value, payload, language: day_in(language, value),
}


@dataclass(frozen=True)
class Field:
    """A payload field of a kind. ``format`` is "text", "money" (with the payload's ``currency``),
    "number", "int", "date", or ``callable(value) -> str`` (e.g. a translated choice label)."""

    name: str
    format: str | Callable[[Any], str] = "text"
    required: bool = True

    def render(self, value: Any, payload: dict) -> str:
        return self.render_in(translation.get_language(), value, payload)

    def render_in(self, language: str | None, value: Any, payload: dict) -> str:
        """:meth:`render` in ``language``, which must be the active language."""
        return self._formatter(value, payload, language)

    @cached_property
    def _formatter(self) -> Callable[[Any, dict, str | None], str]:
        """``(value, payload, language) -> text``, chosen once per field."""
        if callable(self.format):
            return _cached(self.format)
        return _FORMATS[self.format]


#: the texts of the callable formats by (language, value type, value); cleared on a settings change
_format_caches: list[dict] = []
#: values whose formatted text is a function of the value and the language alone (hashable)
_CACHED_VALUES = frozenset({str, int, bool, type(None)})


def _cached(format_value: Callable[[Any], str]) -> Callable[[Any, dict, str | None], str]:
    """``format_value`` as a formatter that keeps its texts: a choice label is translated once per
    language and value, not once per event (the demo seed formats a million)."""
    texts: dict[tuple, str] = {}
    _format_caches.append(texts)

    def formatted(value: Any, payload: dict, language: str | None) -> str:
        kind = type(value)
        if kind not in _CACHED_VALUES:
            return str(format_value(value))
        key = (language, kind, value)
        text = texts.get(key)
        if text is None:
            if len(texts) >= 10_000:
                texts.clear()
            text = texts[key] = str(format_value(value))
        return text

    return formatted


@dataclass(frozen=True)
class EventKind:
    """The declaration of one kind of timeline event."""

    kind: str
    department: str
    label: Any
    # A (lazy) translatable template with %(field)s placeholders, or ``callable(payload)`` choosing
    # one of several templates (e.g. "paid in full" or "... still open"), so each stays one sentence.
    title: Any
    fields: tuple[Field, ...] = ()
    summary: Any = ""  # like ``title``
    channel: str = "other"
    direction: str = "internal"
    contact: bool = False
    tags: frozenset[str] = frozenset()

    # --- building ------------------------------------------------------------------------------------
    def payload(self, **values: Any) -> dict:
        """The payload with every declared field; unknown names are refused (they would drift)."""
        allowed, required = self._names
        if not allowed.issuperset(values):
            unknown = set(values) - allowed
            raise ValueError(f"{self.kind}: undeclared payload fields {sorted(unknown)}")
        if not required.issubset(values):
            missing = [f.name for f in self.fields if f.required and f.name not in values]
            raise ValueError(f"{self.kind}: payload lacks {missing}")
        return {key: value if type(value) in _PLAIN else _jsonable(value) for key, value in values.items()}

    @cached_property
    def _names(self) -> tuple[frozenset[str], frozenset[str]]:
        """The payload's allowed names (the fields and ``currency``) and its required ones."""
        allowed = frozenset(f.name for f in self.fields) | {"currency"}
        return allowed, frozenset(f.name for f in self.fields if f.required)

    @cached_property
    def _formatters(self) -> tuple[tuple[str, Callable[[Any, dict, str | None], str]], ...]:
        return tuple((f.name, f._formatter) for f in self.fields)

    def texts(self, payload: dict) -> tuple[str, str]:
        """Title and summary in the active language (English when none is active)."""
        return self._texts_in(translation.get_language(), payload)

    def _texts_in(self, language: str | None, payload: dict) -> tuple[str, str]:
        title = _translated(_template(self.title, payload), language)
        summary = _template(self.summary, payload)
        summary = _translated(summary, language) if summary else ""
        # Only the fields the two texts name are formatted (a payment's title quotes two of seven).
        values = {
            name: formatter(payload.get(name), payload, language)
            for name, formatter in self._formatters_for(title, summary)
        }
        return title % values, (summary % values if summary else "")

    def _formatters_for(self, title: str, summary: str) -> tuple[tuple[str, Callable], ...]:
        key = (self.kind, title, summary)
        found = _used_formatters.get(key)
        if found is None:
            if len(_used_formatters) >= 1000:  # templates are a few per kind; a bound all the same
                _used_formatters.clear()
            named = set(_PLACEHOLDER.findall(title)) | set(_PLACEHOLDER.findall(summary))
            found = _used_formatters[key] = tuple((n, f) for n, f in self._formatters if n in named)
        return found

    def stored_texts(self, payload: dict) -> tuple[str, str]:
        """Title and summary in English (the stored text); without switching the language when
        English is active already (the demo seed and imports build millions of events)."""
        if translation.get_language() == "en":
            return self._texts_in("en", payload)
        with translation.override("en"):
            return self.texts(payload)

    def event(
        self,
        *,
        customer_id: int,
        key: str,
        payload: dict,
        occurred_at: datetime | None = None,
        channel: str | None = None,
        direction: str | None = None,
        actor_id: int | None = None,
        actor_label: str = "",
        source_type_id: int | None = None,
        source_id: str = "",
        source_url: str = "",
        audience: str = "",
        summary: str | None = None,
        department: str | None = None,
    ):
        """An :class:`customer360.timeline.EventData` for :func:`customer360.timeline.record_many`.
        ``summary`` given explicitly (free text a user wrote, e.g. a call note) replaces the declared one;
        ``department`` replaces the declared one for kinds any department records (a note, an import)."""
        title, declared_summary = self.stored_texts(payload)
        return timeline.EventData(
            customer_id=customer_id,
            department=department or self.department,
            kind=self.kind,
            title=title,
            summary=declared_summary if summary is None else summary,
            idempotency_key=key,
            occurred_at=occurred_at,
            channel=channel or self.channel,
            direction=direction or self.direction,
            actor_id=actor_id,
            actor_label=actor_label,
            source_type_id=source_type_id,
            source_id=source_id,
            source_url=source_url,
            payload=payload,
            audience=audience,
        )

    def record(
        self,
        *,
        customer,
        key: str,
        payload: dict,
        occurred_at: datetime | None = None,
        channel: str | None = None,
        direction: str | None = None,
        actor=None,
        actor_label: str = "",
        source=None,
        audience: str = "",
        summary: str | None = None,
        department: str | None = None,
    ):
        """Record one event of this kind through :func:`customer360.timeline.record`."""
        title, declared_summary = self.stored_texts(payload)
        return timeline.record(
            customer=customer,
            department=department or self.department,
            kind=self.kind,
            title=title,
            summary=declared_summary if summary is None else summary,
            idempotency_key=key,
            occurred_at=occurred_at,
            channel=channel or self.channel,
            direction=direction or self.direction,
            actor=actor,
            actor_label=actor_label,
            source=source,
            payload=payload,
            audience=audience,
        )


def _template(template: Any, payload: dict) -> Any:
    return template(payload) if callable(template) else template


#: (id of a lazy template, language) -> (the template, kept alive so its id stays its own; its text)
_translations: dict[tuple[int, str | None], tuple[Any, str]] = {}


def _translated(template: Any, language: str | None) -> str:
    """``str(template)`` in ``language`` (the active one): a lazy template's translation looked up
    once per language instead of once per event."""
    if type(template) is str:
        return template
    key = (id(template), language)
    found = _translations.get(key)
    if found is None or found[0] is not template:
        found = _translations[key] = (template, str(template))
    return found[1]


#: (kind, title, summary) -> the formatters of the fields the texts name
_used_formatters: dict[tuple[str, str, str], tuple[tuple[str, Callable], ...]] = {}
_PLACEHOLDER = re.compile(r"%\((\w+)\)")


@receiver(setting_changed)
def _forget_translations(**kwargs) -> None:
    _translations.clear()
    _used_formatters.clear()
    for texts in _format_caches:
        texts.clear()


#: payload values that go into the JSON as they are
_PLAIN = frozenset({str, int, bool, float, type(None)})


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# --- the registry ------------------------------------------------------------------------------------
_kinds: dict[str, EventKind] = {}


def declare(
    kind: str,
    *,
    department: str,
    label: Any,
    title: Any,
    fields: Iterable[Field] = (),
    summary: Any = "",
    channel: str = "other",
    direction: str = "internal",
    contact: bool = False,
    tags: Iterable[str] = (),
) -> EventKind:
    """Declare (and register) a kind; a second declaration of the same kind is a programming error."""
    declaration = EventKind(
        kind=kind,
        department=str(department),
        label=label,
        title=title,
        fields=tuple(fields),
        summary=summary,
        channel=str(channel),
        direction=str(direction),
        contact=contact,
        tags=frozenset(tags),
    )
    existing = _kinds.get(kind)
    if existing is not None and existing != declaration:
        raise ValueError(f"event kind {kind!r} is declared twice")
    _kinds[kind] = declaration
    return declaration


def get(kind: str) -> EventKind | None:
    return _kinds.get(kind)


def all_kinds() -> list[EventKind]:
    return sorted(_kinds.values(), key=lambda k: k.kind)


def kinds(
    *, contact: bool | None = None, tag: str | None = None, department: str | None = None
) -> tuple[str, ...]:
    """Kind names matching every given criterion, e.g. ``kinds(contact=True)`` or ``kinds(tag="complaint")``."""
    return tuple(
        k.kind
        for k in all_kinds()
        if (contact is None or k.contact == contact)
        and (tag is None or tag in k.tags)
        and (department is None or k.department == department)
    )


#: a payload amount that is a number (imported payloads may hold anything; PostgreSQL's cast would fail)
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


def received_kinds() -> list[str]:
    """The kinds whose ``amount`` is money received: tagged ``"revenue"`` (payments, orders;
    cancellations negative), without those also tagged ``"deal_closed"``: a won deal is invoiced and
    paid later, so it counts once, as the payment. The one definition of revenue for the 360 page
    and the features (``monetary_365``)."""
    return sorted(set(kinds(tag="revenue")) - set(kinds(tag="deal_closed")))


def revenue_sums(customer, *, since: datetime, excluding_department: str = "") -> tuple[Decimal, Decimal]:
    """``(lifetime, since)`` sums of the ``amount`` of the customer's events of the
    :func:`received_kinds`, in one query. ``excluding_department`` leaves out a department that
    counts its own records instead."""
    amount = KeyTextTransform("amount", "payload")
    wanted = received_kinds()
    rows = (
        TimelineEvent.objects.filter(customer=customer, kind__in=wanted)
        .alias(amount_text=amount)
        .filter(amount_text__regex=_NUMBER)
    )
    if excluding_department:
        rows = rows.exclude(department=excluding_department)
    value = Cast(amount, DecimalField(max_digits=20, decimal_places=4))
    sums = rows.aggregate(lifetime=Sum(value), recent=Sum(value, filter=Q(occurred_at__gte=since)))
    return sums["lifetime"] or Decimal(0), sums["recent"] or Decimal(0)


def render(event) -> tuple[str, str]:
    """Title and summary of a stored event in the active language: declared kinds render from their
    payload; undeclared kinds and payloads missing a declared field keep the stored text."""
    declaration = _kinds.get(event.kind)
    payload = event.payload if isinstance(event.payload, dict) else {}
    if declaration is None or any(f.required and f.name not in payload for f in declaration.fields):
        return event.title, event.summary
    try:
        title, summary = declaration.texts(payload)
    except (KeyError, TypeError, ValueError):
        logger.warning("event %s of kind %s could not be rendered", event.pk, event.kind)
        return event.title, event.summary
    # A summary written by a person (a call note) is stored and shown as written.
    return title, summary or event.summary


TimelineEvent.renderer = staticmethod(render)
