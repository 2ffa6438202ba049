"""What imported rows become: a registry of import targets.

The core ships "customers" (with attributes) and "events" (timeline events of the source's
department). Department apps add their records without the core importing them, e.g. in
``billing/panels.py``::

    from customer360.sources.targets import ImportTarget, RowResult, TargetField, import_targets

    def write_invoices(rows, ctx):        # rows: list[PreparedRow]; ctx: ImportContext
        ids = identity.resolve([r.values for r in rows], source_slug=ctx.source.slug)
        ...                                # bulk-create invoices + timeline.record_many(...)
        return [RowResult("created") for _ in rows]

    import_targets.register(ImportTarget(
        key="billing.invoice", label=_("Invoices"), department="accounting",
        fields=(*CUSTOMER_TARGET_FIELDS, TargetField("number", _("Invoice number"), required=True), ...),
        write_rows=write_invoices,
    ))

``write_rows`` runs inside the batch's transaction and returns one :class:`RowResult` per row,
in order. It must be idempotent (a rerun of the same file changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customer360 import timeline
from customer360.events_core import CUSTOMER_CREATED
from customer360.models import Channel, Customer, Department, Direction
from customer360.sources import identity
from customer360.sources.mapping import json_safe


@dataclass(frozen=True)
class TargetField:
    """A field an import can fill; ``type`` is the default coercion (see mapping.TYPES)."""

    name: str
    label: str
    type: str = "text"
    required: bool = False
    aliases: tuple[str, ...] = ()
    #: "app_label.Model" whose column of the same name stores the value: its length, choices and
    #: type are checked before a row is written (see :mod:`customer360.sources.fitting`)
    model: str = ""


@dataclass
class PreparedRow:
    """One mapped row: where it came from, its values, and a stable fingerprint of its content."""

    number: int
    values: dict
    record: dict
    fingerprint: str = ""
    #: an earlier line of the same file with the same record id (a chunk before this one may hold it)
    repeat_of: int = 0


@dataclass
class RowResult:
    """created | updated | unchanged | duplicate | failed (with the reason)."""

    status: str
    reason: str = ""
    customer_id: int | None = None


@dataclass
class ImportContext:
    """What a target needs besides the rows; ``seen`` remembers keys across the batches of a run."""

    source: object
    actor_id: int | None = None
    channel: str = Channel.OTHER
    seen: set = field(default_factory=set)


@dataclass(frozen=True)
class ImportTarget:
    key: str
    label: str
    fields: tuple[TargetField, ...]
    write_rows: Callable[[list[PreparedRow], ImportContext], list[RowResult]]
    department: str = ""
    order: int = 100
    #: field that carries the record's external id in the REST API (idempotency per source)
    api_id_field: str = "external_id"
    #: ``(row fingerprints, ctx, mapping) -> positions of rows imported before``, decided before the
    #: rows are mapped, so a rerun skips its known lines cheaply; None when a target cannot tell.
    known_rows: Callable[[list[str], ImportContext, dict], set[int]] | None = None
    #: the mapping may name the columns that identify a row (their key becomes ``api_id_field``)
    keyed_rows: bool = False
    #: every row must name its customer (external id, e-mail or phone), else the writer refuses it
    needs_customer: bool = False

    def field_types(self) -> dict[str, str]:
        return {f.name: f.type for f in self.fields}

    def field_names(self) -> set[str]:
        return {f.name for f in self.fields}


class _Targets:
    def __init__(self) -> None:
        self.items: dict[str, ImportTarget] = {}

    def register(self, target: ImportTarget) -> None:
        self.items[target.key] = target

    def get(self, key: str) -> ImportTarget | None:
        return self.items.get(key)

    def all(self) -> list[ImportTarget]:
        return sorted(self.items.values(), key=lambda t: (t.order, t.key))

    def choices(self) -> list[tuple[str, str]]:
        return [(t.key, t.label) for t in self.all()]


import_targets = _Targets()

_CUSTOMER = "customer360.Customer"
_EVENT = "customer360.TimelineEvent"

CUSTOMER_TARGET_FIELDS: tuple[TargetField, ...] = (
    TargetField(
        "external_id",
        gettext_lazy("External id"),
        "id",
        aliases=("id", "customer id", "customerid", "kundennummer", "kdnr"),
    ),
    TargetField(
        "email", gettext_lazy("E-mail"), "email", aliases=("e-mail", "mail", "email address"), model=_CUSTOMER
    ),
    TargetField(
        "tax_id",
        gettext_lazy("Tax / VAT id"),
        aliases=(
            "vat",
            "vat id",
            "vat number",
            "tax id",
            "uid",
            "uid-nummer",
            "ust-id",
            "ustid",
            "steuernummer",
        ),
    ),
    TargetField(
        "phone",
        gettext_lazy("Phone"),
        "phone",
        aliases=("telefon", "tel", "mobile", "phone number"),
        model=_CUSTOMER,
    ),
    TargetField(
        "first_name",
        gettext_lazy("First name"),
        aliases=("vorname", "firstname", "given name"),
        model=_CUSTOMER,
    ),
    TargetField(
        "last_name",
        gettext_lazy("Last name"),
        aliases=("nachname", "lastname", "surname", "name"),
        model=_CUSTOMER,
    ),
    TargetField(
        "company", gettext_lazy("Company"), aliases=("firma", "organisation", "organization"), model=_CUSTOMER
    ),
    TargetField(
        "street", gettext_lazy("Street"), aliases=("strasse", "straße", "address", "adresse"), model=_CUSTOMER
    ),
    TargetField(
        "postcode",
        gettext_lazy("Postcode"),
        aliases=("plz", "zip", "postal code", "postleitzahl"),
        model=_CUSTOMER,
    ),
    TargetField("city", gettext_lazy("City"), aliases=("ort", "stadt", "town"), model=_CUSTOMER),
    TargetField(
        "country", gettext_lazy("Country (ISO code)"), "country", aliases=("land", "staat"), model=_CUSTOMER
    ),
    TargetField(
        "birth_date",
        gettext_lazy("Birth date"),
        "date",
        aliases=("geburtsdatum", "birthday", "dob"),
        model=_CUSTOMER,
    ),
    TargetField("preferred_language", gettext_lazy("Language"), aliases=("sprache",), model=_CUSTOMER),
    TargetField("lifecycle", gettext_lazy("Lifecycle"), model=_CUSTOMER),
)

EVENT_TARGET_FIELDS: tuple[TargetField, ...] = (
    TargetField("event_id", gettext_lazy("Event id"), "id", aliases=("event", "eventid")),
    TargetField(
        "occurred_at", gettext_lazy("Occurred at"), "datetime", aliases=("date", "datum", "timestamp")
    ),
    TargetField("kind", gettext_lazy("Event kind"), required=True, aliases=("type", "art"), model=_EVENT),
    TargetField("title", gettext_lazy("Title"), aliases=("titel", "subject", "betreff")),
    TargetField("summary", gettext_lazy("Summary"), aliases=("text", "description", "beschreibung")),
    TargetField("channel", gettext_lazy("Channel"), aliases=("kanal",), model=_EVENT),
    TargetField("direction", gettext_lazy("Direction"), aliases=("richtung",), model=_EVENT),
    TargetField("department", gettext_lazy("Department"), aliases=("abteilung",), model=_EVENT),
)


def _customer_changes(customer: Customer, values: dict) -> list[str]:
    """Apply incoming values to an existing customer; return the names of changed fields."""
    changed = []
    for name in identity.CUSTOMER_FIELDS:
        value = values.get(name)
        if value in (None, "") or getattr(customer, name) == value:
            continue
        setattr(customer, name, value)
        changed.append(name)
    incoming = json_safe(values.get("attributes") or {})
    if incoming and any(customer.attributes.get(k) != v for k, v in incoming.items()):
        customer.attributes = {**customer.attributes, **incoming}
        changed.append("attributes")
    if changed:
        customer.search_key = customer.build_search_key()
        changed.append("search_key")
    return changed


def write_customers(rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """Customers with their attributes: new ones are created, known ones updated in place."""
    results: list[RowResult | None] = [None] * len(rows)
    todo: list[int] = []
    for index, row in enumerate(rows):
        keys = identity.identity_keys(row.values, ctx.source.slug)
        if not keys:
            results[index] = RowResult(
                "failed", _("No customer identifier: map an external id, e-mail or phone column.")
            )
        elif keys[0] in ctx.seen:
            results[index] = RowResult("duplicate", _("The same customer appears earlier in this file."))
        else:
            ctx.seen.add(keys[0])
            todo.append(index)
    values = [
        {**rows[i].values, "attributes": json_safe(rows[i].values.get("attributes") or {})} for i in todo
    ]
    resolved = identity.resolve(values, source_slug=ctx.source.slug)
    existing_ids = {cid for cid, created in resolved if not created and cid}
    existing = Customer.objects.in_bulk(list(existing_ids))
    to_update: dict[int, Customer] = {}
    update_fields: set[str] = set()
    new_ids: list[int] = []
    for position, (index, (customer_id, created)) in enumerate(zip(todo, resolved, strict=True)):
        if created:
            results[index] = RowResult("created", customer_id=customer_id)
            if customer_id not in new_ids:
                new_ids.append(customer_id)
            continue
        if rows[index].repeat_of:  # an earlier chunk of this file had the same customer id
            results[index] = RowResult(
                "duplicate",
                _("The same customer appears earlier in this file (row %(row)s).")
                % {"row": rows[index].repeat_of},
                customer_id=customer_id,
            )
            continue
        customer = to_update.get(customer_id) or existing.get(customer_id)
        changed = _customer_changes(customer, values[position]) if customer else []
        if changed:
            to_update[customer_id] = customer
            update_fields.update(changed)
        results[index] = RowResult("updated" if changed else "unchanged", customer_id=customer_id)
    if to_update:
        Customer.objects.bulk_update(list(to_update.values()), sorted(update_fields), batch_size=1000)
    if new_ids:
        _record_created(new_ids, ctx)
    return [r or RowResult("failed") for r in results]


def _record_created(customer_ids: list[int], ctx: ImportContext) -> None:
    timeline.record_many(
        (
            CUSTOMER_CREATED.event(
                customer_id=cid,
                department=ctx.source.department,
                payload=CUSTOMER_CREATED.payload(source=ctx.source.name[:120]),
                key=timeline.idempotency_key("customer.created", cid),
                channel=ctx.channel,
                direction=Direction.INBOUND,
                actor_id=ctx.actor_id,
                actor_label=ctx.source.name[:120],
                source_url=f"/customers/{cid}/",
            )
            for cid in customer_ids
        ),
    )


_DEPARTMENTS = set(Department.values)
_CHANNELS = set(Channel.values)
_DIRECTIONS = set(Direction.values)


def _event_problem(values: dict, department: str) -> str:
    for name, allowed in (("department", _DEPARTMENTS), ("channel", _CHANNELS), ("direction", _DIRECTIONS)):
        value = values.get(name)
        if value and value not in allowed:
            return _('Field "%(field)s": "%(value)s" is not one of %(allowed)s') % {
                "field": name,
                "value": value,
                "allowed": ", ".join(sorted(allowed)),
            }
    if len(str(values.get("kind", ""))) > 60:
        return _('Field "kind": longer than 60 characters')
    if department not in _DEPARTMENTS:
        return _("The data source has no valid department.")
    return ""


def write_events(rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """Timeline events of the source's department, one per row, idempotent by
    ``<source slug>:<event id>`` (or the row's content fingerprint when no event id is mapped)."""
    source = ctx.source
    results: list[RowResult | None] = [None] * len(rows)
    spaces = identity.id_namespaces(fresh=True)  # read once per batch, as identity.resolve does
    candidates = _event_candidates(rows, ctx, results, spaces)
    # One indexed look-up per batch: a rerun's rows end here, before identity resolution and COPY.
    known = timeline.recorded_keys([key for _index, key, _ids in candidates])
    fresh = []
    for candidate in candidates:
        index = candidate[0]
        if candidate[1] not in known:
            fresh.append(candidate)
        elif rows[index].repeat_of:
            results[index] = RowResult("duplicate", _repeated(rows[index].repeat_of))
        else:
            results[index] = RowResult("unchanged")
    resolved = identity.resolve(
        [rows[i].values for i, _key, _ids in fresh],
        source_slug=source.slug,
        keys_per_row=[ids for _index, _key, ids in fresh],
    )
    event = _event_maker(ctx, ContentType.objects.get_for_model(type(source)).id)
    events = []
    for (index, key, _ids), (customer_id, _created) in zip(fresh, resolved, strict=True):
        events.append(event(rows[index].values, key, customer_id))
        results[index] = RowResult("created", customer_id=customer_id)
    # Sorted by key so that concurrent imports lock unique-index entries in the same order.
    events.sort(key=lambda e: e.idempotency_key)
    written: set[str] = set()
    timeline.record_many(events, new_keys=written)
    for index, key, _ids in fresh:
        if key not in written:  # recorded before (or by a concurrent writer): the unique key kept it
            repeat_of = rows[index].repeat_of
            results[index] = (
                RowResult("duplicate", _repeated(repeat_of)) if repeat_of else RowResult("unchanged")
            )
    return [r or RowResult("failed") for r in results]


def known_event_rows(fingerprints: list[str], ctx: ImportContext, mapping: dict) -> set[int]:
    """Without a mapped event id an event's key is the line's fingerprint: the lines whose event
    exists are known from the raw line alone (a rerun maps and resolves nothing for them)."""
    if any(entry.get("field") == "event_id" for entry in mapping.get("fields", [])):
        return set()
    keys = [timeline.idempotency_key(ctx.source.slug, f"row:{fingerprint}") for fingerprint in fingerprints]
    recorded = timeline.recorded_keys(keys)
    return {index for index, key in enumerate(keys) if key in recorded} if recorded else set()


def _repeated(row: int) -> str:
    return _("The same event appears earlier in this file (row %(row)s).") % {"row": row}


def _event_candidates(
    rows: list[PreparedRow], ctx: ImportContext, results: list, spaces: dict[str, str]
) -> list[tuple[int, str, tuple]]:
    """``(index, idempotency key, identity keys)`` of the rows that may become events; the others
    get their refusal (or "duplicate" for a key seen earlier in this run) in ``results``."""
    source = ctx.source
    slug, seen = source.slug, ctx.seen
    candidates = []
    for index, row in enumerate(rows):
        values = row.values
        problem = _event_problem(values, values.get("department") or source.department)
        if problem:
            results[index] = RowResult("failed", problem)
            continue
        ids = tuple(identity.identity_keys(values, slug, spaces))
        if not ids:
            results[index] = RowResult(
                "failed", _("No customer identifier: map an external id, e-mail or phone column.")
            )
            continue
        suffix = values.get("event_id") or f"row:{row.fingerprint}"
        key = timeline.idempotency_key(slug, suffix)
        if key in seen:
            repeat_of = row.repeat_of
            message = _repeated(repeat_of) if repeat_of else _("The same event appears earlier in this file.")
            results[index] = RowResult("duplicate", message)
            continue
        seen.add(key)
        candidates.append((index, key, ids))
    return candidates


def _event_maker(ctx: ImportContext, source_type_id: int) -> Callable[[dict, str, int], timeline.EventData]:
    """``event(values, key, customer_id)``: what is the same for every event of the batch (the
    source, its department, channel and actor) is looked up once, here."""
    source = ctx.source
    department, channel, actor_id = source.department, ctx.channel, ctx.actor_id
    actor_label, source_id = source.name[:120], str(source.pk)

    def event(values: dict, key: str, customer_id: int) -> timeline.EventData:
        get, kind = values.get, values["kind"]
        return timeline.EventData(
            customer_id=customer_id,
            department=get("department") or department,
            kind=kind,
            title=str(get("title") or kind)[:300],
            summary=get("summary", ""),
            idempotency_key=key,
            occurred_at=get("occurred_at"),
            channel=get("channel") or channel,
            direction=get("direction") or Direction.INBOUND,
            actor_id=actor_id,
            actor_label=actor_label,
            source_type_id=source_type_id,
            source_id=source_id,
            payload=_json_payload(get("payload")),
        )

    return event


def _json_payload(payload: dict | None) -> dict:
    """``json_safe`` for a mapped payload, which is flat almost always: one pass, no recursion."""
    if not payload:
        return {}
    safe = {}
    for key, value in payload.items():
        kind = type(value)
        if kind is Decimal:
            value = float(value)
        elif kind is datetime or kind is date:
            value = value.isoformat()
        elif kind not in _JSON_PLAIN:  # nested or unusual values: the general conversion
            return json_safe(payload)
        safe[key] = value
    return safe


_JSON_PLAIN = {str, int, float, bool, type(None)}


import_targets.register(
    ImportTarget(
        key="customers",
        label=gettext_lazy("Customers (with attributes)"),
        fields=CUSTOMER_TARGET_FIELDS,
        write_rows=write_customers,
        order=10,
        needs_customer=True,
    )
)
import_targets.register(
    ImportTarget(
        key="events",
        label=gettext_lazy("Timeline events of the source's department"),
        fields=(*EVENT_TARGET_FIELDS, *CUSTOMER_TARGET_FIELDS),
        write_rows=write_events,
        order=20,
        api_id_field="event_id",
        known_rows=known_event_rows,
        keyed_rows=True,
        needs_customer=True,
    )
)
