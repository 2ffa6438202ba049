"""Tools for import targets of department records (tickets, deals, invoices, payments, touches).

A department app's ``write_rows`` validates rows, keeps the first row per external id, names the
column and the value in every refusal, and records its events sorted by key. Those steps are the
same for every department, so they live here, in the core that every app may import.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from customer360 import services, timeline
from customer360.sources.mapping import RowError
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
    """The first row per external id in this run; later ones are duplicates."""
    kept = []
    for item in items:
        key = (entity, item.external_id)
        if key in ctx.seen:
            results[item.index] = RowResult(
                "duplicate", gettext("The same id appears earlier in this import.")
            )
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
    timeline.record_many(events, count_new=False)
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
