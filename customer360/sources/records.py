"""Tools for import targets of department records (tickets, deals, invoices, payments, touches).

A department app's ``write_rows`` validates rows, keeps the first row per external id, names the
column and the value in every refusal, and records its events sorted by key. Those steps are the
same for every department, so they live here, in the core that every app may import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache

from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from customer360 import bulk, services, timeline
from customer360.sources import identity
from customer360.sources.mapping import RowError, to_date, to_datetime, to_decimal
from customer360.sources.targets import ImportContext, PreparedRow, RowResult
from customer360.text import fold


def english(message: str, **values) -> str:
    """Titles are stored in English (the catalogue translates the msgids for display); the
    writers build all titles of a batch inside one ``translation.override("en")``."""
    return gettext(message) % values


def column(row: PreparedRow, ctx: ImportContext, name: str) -> str:
    """The file column (or API field) a field's value came from, so a reason names what to fix."""
    for entry in (getattr(ctx.source, "mapping", None) or {}).get("fields", []):
        if entry.get("field") == name and entry.get("column") in row.record:
            return entry["column"]
    return name


def refusal(row: PreparedRow, ctx: ImportContext, name: str, message: str) -> RowResult:
    """A failed row whose reason names the column and the value, like the mapping's cell errors."""
    value = row.values.get(name)
    text = "" if value is None else str(value)
    return RowResult("failed", str(RowError(column(row, ctx, name), text, message)))


def present(values: dict, name: str) -> bool:
    return values.get(name) not in (None, "")


def validated(
    rows: list[PreparedRow], ctx: ImportContext, id_field: str, clean_row: Callable, make_item: Callable
) -> tuple[list, list]:
    """Rows with an external id and clean values become ``make_item(index, row, id, clean)``;
    the others get their refusal in ``results`` (one slot per row, in order)."""
    results: list[RowResult | None] = [None] * len(rows)
    items = []
    for index, row in enumerate(rows):
        external_id = str(row.values.get(id_field) or "").strip()[:100]
        clean, failure = clean_row(row, ctx) if external_id else ({}, None)
        if not external_id:
            failure = refusal(row, ctx, id_field, gettext("is empty, but an id is required"))
        if failure:
            results[index] = failure
        else:
            items.append(make_item(index, row, external_id, clean))
    return results, items


def claim(items: list, results: list, ctx: ImportContext, entity: str) -> list:
    """The first row per external id in this run; later ones are duplicates, also when the first
    one was in an earlier chunk (``repeat_of``, found when the file was prepared), so a repeated
    record counts as "duplicate" naming its first row, never as "unchanged" or "updated"."""
    kept = []
    for item in items:
        key = (entity, item.external_id)
        first = item.row.repeat_of
        if key in ctx.seen or first:
            message = (
                gettext("The same id appears earlier in this import (row %(row)s).") % {"row": first}
                if first
                else gettext("The same id appears earlier in this import.")
            )
            results[item.index] = RowResult("duplicate", message)
            continue
        ctx.seen.add(key)
        kept.append(item)
    return kept


def url_maker(view_name: str) -> Callable[[int], str]:
    """``pk -> url`` of a detail view: one ``reverse`` per batch instead of one per event."""
    marker = 987654321
    template = reverse(view_name, args=[marker])
    return lambda pk: template.replace(str(marker), str(pk))


def record_events(events: list[timeline.EventData]) -> None:
    """Record an import's department events. The admin who connected the source into a department
    decided that the department works with these customers: they are assigned to it (recorded)."""
    # Sorted by key so that concurrent imports lock unique-index entries in the same order.
    events.sort(key=lambda e: e.idempotency_key)
    timeline.record_many(events)
    services.departments_assign({(e.customer_id, e.department) for e in events}, reason="import")


class Choices:
    """Words of source systems for a target's choice fields: ``parse("status", "Offen")``.

    ``fields`` maps a field to its Django choices class, ``synonyms`` a field to {folded word: value}.
    """

    def __init__(self, fields: dict[str, type], synonyms: dict[str, dict[str, str]]) -> None:
        self.fields, self.synonyms = fields, synonyms
        self._lookup = cache(self._build)

    def _build(self, kind: str) -> dict[str, str]:
        """Folded value, English label and synonym -> value (built once per process)."""
        choices = self.fields[kind]
        with translation.override("en"):
            lookup = {fold(str(label)): value for value, label in choices.choices}
        lookup.update(self.synonyms.get(kind, {}))
        lookup.update({value: value for value in choices.values})
        return lookup

    def parse(self, kind: str, raw) -> str | None:
        text = fold(str(raw))
        lookup = self._lookup(kind)
        return lookup.get(text) or lookup.get(text.replace(" ", "_"))

    def not_one_of(self, kind: str) -> str:
        return gettext("is not one of %(allowed)s") % {"allowed": ", ".join(self.fields[kind].values)}


# --- typed values (the mapping types them already; a mapping may still have forced plain text) --------
def as_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=timezone.get_default_timezone())
    return to_datetime(str(value))


def as_date(value) -> date:
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    return to_date(str(value))


def as_decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else to_decimal(str(value))


# --- rows on their way to records ---------------------------------------------------------------------
@dataclass
class Item:
    """A valid row on its way in: its position, external id, cleaned values and what it becomes."""

    index: int
    row: PreparedRow
    external_id: str
    clean: dict
    obj: object = None
    new: bool = False
    changed: list[str] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)  # (declared kind, key parts, occurred_at, ...)

    @property
    def customer_id(self) -> int | None:
        return getattr(self.obj, "customer_id", None)


def existing(queryset, items: list, slug: str, *related: str) -> dict:
    """The known records of these rows by external id (one query)."""
    # The exclude repeats the unique constraint's condition so PostgreSQL can use its partial index.
    ids = [i.external_id for i in items]
    rows = queryset.filter(external_source=slug, external_id__in=ids).exclude(external_id="")
    return {obj.external_id: obj for obj in rows.select_related(*related).order_by("pk")}


def resolve_customers(items: list, results: list, ctx: ImportContext, required: str) -> list:
    """New records need their customer: found or created by identity resolution, in bulk. Rows
    without a customer identifier or without ``required`` get their refusal in ``results``."""
    creatable = []
    for item in items:
        failure = None
        if not identity.identity_keys(item.row.values, ctx.source.slug):
            failure = RowResult(
                "failed", gettext("No customer identifier: map an external id, e-mail or phone column.")
            )
        elif not present(item.clean, required):
            failure = refusal(item.row, ctx, required, gettext("is empty, but a new record needs it"))
        if failure:
            results[item.index] = failure
        else:
            creatable.append(item)
    resolved = identity.resolve([i.row.values for i in creatable], source_slug=ctx.source.slug)
    for item, (customer_id, _created) in zip(creatable, resolved, strict=True):
        item.obj.customer_id = customer_id
        item.new = True
    return creatable


def insert_new(model, items: list, slug: str) -> None:
    """Bulk-insert new records; a concurrent import of the same ids loses quietly (unique key),
    and the primary keys are read back by the natural key."""
    if not items:
        return
    bulk.bulk_insert([i.obj for i in items], ignore_conflicts=True)
    pks = dict(
        model.objects.filter(external_source=slug, external_id__in=[i.external_id for i in items])
        .exclude(external_id="")
        .values_list("external_id", "pk")
    )
    for item in items:
        item.obj.pk = pks[item.external_id]


def results_of(items: list, results: list) -> list[RowResult]:
    """Created, updated or unchanged per written row; refused rows keep their refusal."""
    for item in items:
        status = "created" if item.new else ("updated" if item.changed or item.events else "unchanged")
        results[item.index] = RowResult(status, customer_id=item.customer_id)
    return [r or RowResult("failed") for r in results]
