"""The preview's check of the whole file, and the columns suggested to identify a row.

The preview shows the first rows, but a run refuses rows anywhere in the file. :func:`file_check`
reads the whole file the way the worker does (streamed, the same blank-row rule and numbering),
maps every row with the same compiled plan, required-field check and :class:`FieldFit`, and counts:
rows that will be refused (with the first reasons), lines that repeat an earlier line exactly, and
rows that share their key (the target's id) with an earlier row. Nothing is written.

It runs in the worker (``sources.tasks.check_file``, a Job row the mapping page polls), never in a
web request: the page answers with the first rows at once, whatever the size of the file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

from customer360.sources import identity
from customer360.sources.chunks import required_errors
from customer360.sources.fitting import FieldFit
from customer360.sources.plan import UNEXPLAINED, MappingPlan
from customer360.sources.reading import decode, iter_records, parse_rows, read_head

SHOWN_ERRORS = 20
BLOCK_ROWS = 5000
#: the largest number of rows the suggestion of key columns looks at
KEY_SAMPLE_ROWS = 5000
_ID_WORDS = ("id", "no", "nr", "number", "nummer", "code", "invoice", "rechnung", "line", "pos", "zeile")


def check_seconds() -> float:
    """How long the worker's check may read the file (C360_PREVIEW_CHECK_SECONDS, below the task's
    soft time limit): a larger file is checked in part, the page says so and the run checks every row."""
    return float(getattr(settings, "C360_PREVIEW_CHECK_SECONDS", 180))


@dataclass
class FileCheck:
    """What the run will meet in the whole file (``complete`` False: only the first rows were read)."""

    rows: int = 0
    complete: bool = True
    refused: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    repeated_lines: int = 0
    first_repeat: tuple[int, int] | None = None
    key_field: str = ""
    keyed_rows: int = 0
    shared_keys: int = 0
    key_conflicts: int = 0
    first_conflict: tuple[int, int] | None = None

    def as_json(self) -> dict:
        """The check as JSON (kept in the worker's Job row until the page shows it)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> FileCheck:
        pairs = ("first_repeat", "first_conflict")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known.update({name: tuple(known[name]) for name in pairs if known.get(name)})
        known["errors"] = [(int(number), str(reason)) for number, reason in known.get("errors", [])]
        return cls(**known)


def file_check(
    *,
    handle: BinaryIO,
    options: dict,
    mapping: dict,
    target,
    size: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> FileCheck:
    """Map every row of the file in ``handle`` as the run will (nothing is written).

    After each block of rows ``progress(rows of the block, estimated rows of the file)`` is called;
    the estimate comes from the share of the file's ``size`` (bytes) read so far."""
    head = read_head(handle, encoding=options.get("encoding", ""), delimiter=options.get("delimiter", ""))
    handle.seek(0)
    entries = mapping.get("fields", [])
    local = mapping.get("options", {})
    plan = MappingPlan(
        head.header,
        entries,
        target.field_types(),
        region=local.get("region", "AT"),
        locale=local.get("locale", ""),
    )
    fit = FieldFit(target, entries)
    id_field = target.api_id_field if any(e.get("field") == target.api_id_field for e in entries) else ""
    check = FileCheck(key_field=id_field)
    lines: dict[int, int] = {}
    keys: dict[str, tuple[int, int]] = {}
    deadline = time.monotonic() + check_seconds()
    for first, rows, share in blocks(handle, head, options, size=size):
        if check.rows and time.monotonic() > deadline:  # the first block is always checked
            check.complete = False
            break
        for number, row, (values, problems) in zip(
            range(first, first + len(rows)), rows, plan.map_rows(rows, explain=False), strict=True
        ):
            check.rows += 1
            line = hash("\x1f".join(row))
            earlier = lines.setdefault(line, number)
            if earlier != number:
                check.repeated_lines += 1
                check.first_repeat = check.first_repeat or (number, earlier)
            if id_field and (key := values.get(id_field)) not in (None, ""):
                _count_key(check, keys, str(key), number, line)
            problems = problems or _required(target, mapping, values) or fit.errors(values)
            if problems:
                check.refused += 1
                if len(check.errors) < SHOWN_ERRORS:
                    if problems is UNEXPLAINED:
                        problems = plan.explain(row)[1]
                    check.errors.append((number, "; ".join(str(p) for p in problems)))
        if progress is not None:
            progress(len(rows), round(check.rows / share) if share else 0)
    return check


def _required(target, mapping: dict, values: dict) -> list:
    """The run's refusals of rows without a required value or without a customer identifier."""
    if not all(values.get(f.name) not in (None, "") for f in target.fields if f.required):
        return required_errors(target, mapping, values)
    if target.needs_customer and not identity.identity_keys(values, ""):
        return [_("No customer identifier: map an external id, e-mail or phone column.")]
    return []


def _count_key(check: FileCheck, keys: dict, key: str, number: int, line: int) -> None:
    check.keyed_rows += 1
    first = keys.setdefault(key, (number, line))
    if first[0] == number:
        return
    check.shared_keys += 1
    if first[1] != line:  # same key, different content: the key misses a column
        check.key_conflicts += 1
        check.first_conflict = check.first_conflict or (number, first[0])


def blocks(
    handle: BinaryIO, head, options: dict, *, size: int = 0
) -> Iterator[tuple[int, list[list[str]], float]]:
    """``(number of the first row, rows, share of the file read)`` of the whole file, as the worker
    numbers them (the share is 0 when the ``size`` of a CSV file is not known)."""
    if head.kind != "csv" or head.encoding == "utf-16":
        table = read_head(
            handle,
            encoding=options.get("encoding", ""),
            delimiter=head.delimiter,
            rows=None,
            head_bytes=None,
        )
        for start in range(0, len(table.rows), BLOCK_ROWS):
            block = table.rows[start : start + BLOCK_ROWS]
            yield start + 2, block, (start + len(block)) / len(table.rows)
        return
    encoding = options.get("encoding", "")
    number, block, header_seen, position = 2, [], False, 0
    for offset, raw in iter_records(handle):
        position = offset + len(raw)
        if not header_seen:
            header_seen = bool(parse_rows(decode(raw, encoding)[0], head.delimiter))
            continue
        block.append(raw)
        if len(block) >= BLOCK_ROWS:
            rows = parse_rows(decode(b"".join(block), encoding)[0], head.delimiter)
            yield number, rows, min(1.0, position / size) if size else 0.0
            number, block = number + len(rows), []
    if block:
        yield number, parse_rows(decode(b"".join(block), encoding)[0], head.delimiter), 1.0


def suggest_key(header: list[str], rows: list[list[str]]) -> list[str]:
    """The fewest columns whose values tell the rows apart, except lines that repeat exactly.

    Greedy over the sample: start with nothing, add the column that leaves the fewest rows sharing
    a key with a different row, preferring columns named like identifiers (invoice no, code, line).
    Ends with every column if nothing less will do (then a key is the whole line).
    """
    rows = [row + [""] * (len(header) - len(row)) for row in rows[:KEY_SAMPLE_ROWS]]
    if len(rows) < 2:
        return []
    whole = [tuple(row) for row in rows]
    chosen: list[int] = []
    remaining = list(range(len(header)))
    while remaining:
        best = min(
            remaining,
            key=lambda index: (_conflicts(whole, [*chosen, index]), not _id_like(header[index]), index),
        )
        chosen.append(best)
        remaining.remove(best)
        if _conflicts(whole, chosen) == 0:
            break
    return [header[index] for index in sorted(chosen)]


def _id_like(name: str) -> bool:
    words = "".join(c if c.isalnum() else " " for c in name.lower()).split()
    text = name.lower()
    return any(w in _ID_WORDS for w in words) or text.endswith(("id", "no", "nr", "code"))


def _conflicts(rows: list[tuple], columns: list[int]) -> int:
    """Rows whose key equals an earlier row's key while the rows differ."""
    first: dict[tuple, tuple] = {}
    count = 0
    for row in rows:
        key = tuple(row[i] for i in columns)
        seen = first.setdefault(key, row)
        if seen is not row and seen != row:
            count += 1
    return count
