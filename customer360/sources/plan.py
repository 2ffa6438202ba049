"""A field mapping compiled once and applied column by column to many rows at a time.

:func:`~customer360.sources.mapping.apply_mapping` maps one record: per row it reads every cell
through a dict, decides again what each entry is (column, template, product, constant) and converts
each value. For a 700,000-line file that per-row work was most of an import's CPU time. A
:class:`MappingPlan` decides once per mapping where each entry reads (column positions, a format
string for a template) and converts a whole column at a time, each distinct text once per batch
(files repeat their dates, prices, codes and customers). Both use the same
:func:`~customer360.sources.mapping.finish`, and a row with any problem is mapped again by
``apply_mapping``, so values and messages are exactly the row-wise ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from customer360.sources.mapping import (
    SKIP,
    RowError,
    _CellError,
    _template_parts,
    apply_mapping,
    finish,
    multiply,
    row_key,
)

_BAD = object()  # the cell did not convert: the row is mapped again, row-wise, for its messages
_GROUPS = ("payload", "attributes", "ids")  # "ids.<source slug>": that source's customer id
#: the errors of a refused row that ``map_rows(explain=False)`` did not map again
UNEXPLAINED = [RowError("", "", "")]


class MappingPlan:
    """``MappingPlan(header, entries, field_types).map_rows(rows)``: the same ``(values, errors)``
    per row as ``apply_mapping(dict(zip(header, row)), entries, field_types)``."""

    def __init__(
        self,
        header: Sequence[str],
        entries: list[dict],
        field_types: dict[str, str],
        *,
        region: str = "AT",
        locale: str = "",
    ) -> None:
        self.header, self.entries, self.field_types = list(header), entries, field_types
        self.region, self.locale = region, locale
        self.position = {name: index for index, name in enumerate(self.header)}
        self.steps = [entry for entry in entries if entry.get("field")]
        names = [entry["field"] for entry in self.steps]
        # A plain field named like a group ("payload") next to "payload.x" is row-wise territory.
        self.columnwise = not any(name in _GROUPS for name in names)

    def map_rows(self, rows: list[list[str]], *, explain: bool = True) -> list[tuple[dict, list[RowError]]]:
        """``explain=False``: a refused row gets :data:`UNEXPLAINED` as its errors instead of being
        mapped again for its messages (a check that only counts refusals; see :meth:`explain`)."""
        width = len(self.header)
        rows = [row if len(row) >= width else row + [""] * (width - len(row)) for row in rows]
        if not self.columnwise or not rows:
            return [self._row_wise(row) for row in rows]
        columns = [self._column(entry, rows) for entry in self.steps]
        bad = {index for column in columns for index, value in enumerate(column) if value is _BAD}
        plain, grouped = [], {group: [] for group in _GROUPS}
        for entry, column in zip(self.steps, columns, strict=True):
            group, dot, key = entry["field"].partition(".")
            if dot and group in _GROUPS:
                grouped[group].append((key, column))
            else:
                plain.append((entry["field"], column))
        if not plain or any(grouped.values()) or any(SKIP in column for _name, column in plain):
            results = [_assemble(plain, grouped, index) for index in range(len(rows))]
        else:  # every entry has a value in every row: one dict per row, built in C
            names = [name for name, _column in plain]
            columns = [column for _name, column in plain]
            results = [(dict(zip(names, values, strict=True)), []) for values in zip(*columns, strict=True)]
        for index in bad:
            results[index] = self._row_wise(rows[index]) if explain else ({}, UNEXPLAINED)
        return results

    def explain(self, row: list[str]) -> tuple[dict, list[RowError]]:
        """One row mapped row-wise, with the messages of its errors."""
        width = len(self.header)
        return self._row_wise(row if len(row) >= width else row + [""] * (width - len(row)))

    def _row_wise(self, row: list[str]) -> tuple[dict, list[RowError]]:
        record = dict(zip(self.header, row, strict=False))
        return apply_mapping(record, self.entries, self.field_types, region=self.region, locale=self.locale)

    def _column(self, entry: dict, rows: list[list[str]]) -> list:
        """The entry's value for every row (or SKIP / _BAD), each distinct raw text finished once."""
        label, raws = self._raw_column(entry, rows)
        type_name = entry.get("type") or self.field_types.get(entry["field"], "text")
        done: dict = {_BAD: _BAD}  # a product that failed stays failed
        out = []
        for raw in raws:
            value = done.get(raw, _BAD)
            if value is _BAD and raw not in done:
                value = finish(entry, label, raw, type_name, self.region, self.locale)
                if isinstance(value, RowError):
                    value = _BAD
                done[raw] = value
            out.append(value)
        return out

    def _raw_column(self, entry: dict, rows: list[list[str]]) -> tuple[str, list]:
        """``(label, raw text per row)``, as ``mapping._raw_value`` reads one record."""
        if "constant" in entry:
            return entry.get("field", ""), [str(entry["constant"])] * len(rows)
        if entry.get("template"):
            literals, names = _template_parts(entry["template"])
            if not names:
                return entry["template"], [literals[0]] * len(rows)
            # "Order {No}: {Text}" -> "Order {}: {}" (literal braces doubled), filled per row.
            pattern = "{}".join(literal.replace("{", "{{").replace("}", "}}") for literal in literals)
            cells = [self._cells(name, rows, strip=True) for name in names]
            return entry["template"], [pattern.format(*values) for values in zip(*cells, strict=True)]
        if entry.get("columns"):
            names = entry["columns"]
            cells = [self._cells(name, rows, strip=True) for name in names]
            if entry.get("combine") == "multiply":
                return " × ".join(names), _products(names, cells, self.locale)
            if entry.get("combine") == "key":
                return " + ".join(names), [row_key(values) for values in zip(*cells, strict=True)]
            return " + ".join(names), [
                " ".join(v for v in values if v) for values in zip(*cells, strict=True)
            ]
        column = entry.get("column", "")
        return column, self._cells(column, rows, strip=False)

    def _cells(self, name: str, rows: list[list[str]], *, strip: bool) -> list[str]:
        index = self.position.get(name)
        if index is None:
            return [""] * len(rows)
        if strip:
            return [row[index].strip() for row in rows]
        return [row[index] for row in rows]


def _products(names: list[str], cells: list[list[str]], locale: str) -> list:
    """The products of the columns per row; a cell that is not a number makes the row _BAD."""
    done: dict[tuple, object] = {}
    out = []
    for values in zip(*cells, strict=True):
        product = done.get(values)
        if product is None:
            try:
                product = multiply(names, list(values), locale)
            except _CellError:
                product = _BAD
            done[values] = product
        out.append(product)
    return out


def _assemble(plain: list, grouped: dict[str, list], index: int) -> tuple[dict, list]:
    """Row ``index``'s values dict, as ``mapping._assign`` builds it entry by entry."""
    values = {}
    for name, column in plain:
        value = column[index]
        if value is not SKIP:
            values[name] = value
    for group, pairs in grouped.items():
        for key, column in pairs:
            value = column[index]
            if value is not SKIP:
                values.setdefault(group, {})[key] = value
    return values, []
