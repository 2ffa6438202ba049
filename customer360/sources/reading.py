"""Reading uploaded files into rows: CSV in the usual encodings and delimiters, and .xlsx.

Everything is read as text; types come later from the field mapping. Cells are never evaluated
(a cell "=1+1" stays the text "=1+1"); see :func:`neutralise` for writing them back out.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

DELIMITERS = {
    ",": gettext_lazy("comma"),
    ";": gettext_lazy("semicolon"),
    "\t": gettext_lazy("tab"),
    "|": gettext_lazy("pipe"),
}
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252")
HEAD_ROWS = 200
HEAD_BYTES = 1024 * 1024
MAX_COLUMNS = 500
_ZIP_MAGIC = b"PK\x03\x04"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_NUMBER = re.compile(r"^[+-]?\d[\d.,]*$")


class NotATable(ValueError):
    """The file cannot be read as a table; the message says why in words an admin understands."""


@dataclass
class Table:
    """A file read as a table: header, rows (lists of strings) and how it was read."""

    header: list[str]
    rows: list[list[str]]
    encoding: str = ""
    delimiter: str = ""
    kind: str = "csv"
    notes: list[str] = field(default_factory=list)
    #: only the head of the file was read (the worker reads the rest)
    truncated: bool = False

    def records(self) -> Iterator[tuple[int, dict[str, str]]]:
        """``(row number in the file, {column: value})``; row 1 is the header, data starts at 2."""
        width = len(self.header)
        for index, row in enumerate(self.rows, start=2):
            if len(row) < width:
                row = row + [""] * (width - len(row))
            yield index, dict(zip(self.header, row, strict=False))


def decode(data: bytes, encoding: str = "") -> tuple[str, str]:
    """Text and the encoding used: a BOM wins (UTF-8 or UTF-16), then strict UTF-8, then Windows-1252."""
    if encoding and encoding != "auto":
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise NotATable(_("The file cannot be read as %(encoding)s.") % {"encoding": encoding}) from exc
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16", errors="replace"), "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Windows-1252 leaves five bytes undefined; latin-1 maps them instead of failing.
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same, largest number of columns."""
    sample_lines = text[:65536].splitlines()[:30]
    sample = "\n".join(sample_lines)
    best, best_score = "", 0.0
    for delimiter in DELIMITERS:
        rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(1 for r in rows if len(r) == width) / len(rows)
        score = consistent * 1000 + width
        if consistent >= 0.6 and score > best_score:
            best, best_score = delimiter, score
    return best


def _single_column(text: str) -> str:
    """A one-column list (ids, e-mail addresses) has no delimiter; prose has spaces."""
    lines = [line for line in text[:65536].splitlines()[:30] if line.strip()]
    if lines and all(len(line) <= 254 and not re.search(r"\s", line.strip()) for line in lines):
        return ","
    return ""


def _refuse_binary(head: bytes) -> None:
    if head.startswith(_UTF16_BOMS):
        return
    if b"\x00" in head[:4096] or head.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8", b"GIF8")):
        raise NotATable(_("This file is not a table (it looks like a binary file). Upload CSV or .xlsx."))


def _delimiter_for(text: str, delimiter: str) -> str:
    if delimiter:
        return delimiter
    delimiter = sniff_delimiter(text) or _single_column(text)
    if not delimiter:
        raise NotATable(
            _(
                "This file does not look like a table: no comma, semicolon or tab separates "
                "columns consistently in its first lines."
            )
        )
    return delimiter


def parse_rows(text: str, delimiter: str, limit: int | None = None) -> list[list[str]]:
    """CSV text as rows, blank rows left out (the same rule for the preview and every chunk);
    ``limit`` stops after that many rows (the head needs only its first rows)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        if limit is None:
            # The first cell decides almost always; only rows starting blank are looked at whole.
            return [row for row in reader if row and (row[0].strip() or any(cell.strip() for cell in row))]
        rows = []
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
                if len(rows) >= limit:
                    break
        return rows
    except csv.Error as exc:
        raise NotATable(_("The file cannot be read as CSV: %(error)s") % {"error": exc}) from exc


def read_table(data: bytes, *, encoding: str = "", delimiter: str = "", sheet: str = "") -> Table:
    """Read ``data`` (a whole, small file's bytes) as a table or raise :class:`NotATable`."""
    return read_head(io.BytesIO(data), encoding=encoding, delimiter=delimiter, rows=None, head_bytes=None)


def read_head(
    handle: BinaryIO,
    *,
    encoding: str = "",
    delimiter: str = "",
    rows: int | None = HEAD_ROWS,
    head_bytes: int | None = HEAD_BYTES,
) -> Table:
    """The header and the first ``rows`` rows, reading at most ``head_bytes`` of a CSV file.

    The web request (mapping form, preview) reads only this head, so a 50 MB file costs as much as
    a small one; the worker reads and checks the whole file. ``rows=None`` reads everything.
    """
    data = handle.read(head_bytes) if head_bytes else handle.read()
    more = bool(head_bytes) and bool(handle.read(1))
    if not data.strip():
        raise NotATable(_("The file is empty."))
    if data.startswith(_ZIP_MAGIC):
        handle.seek(0)
        return read_xlsx(handle, limit_rows=rows)
    _refuse_binary(data)
    if more:
        data = _complete_records(data)
    text, used_encoding = decode(data, encoding)
    if more and used_encoding == "utf-16":
        text = text[: text.rfind("\n") + 1] or text
    delimiter = _delimiter_for(text, delimiter)
    parsed = parse_rows(text, delimiter, None if rows is None else rows + 2)
    if not parsed:
        raise NotATable(_("The file is empty."))
    body = parsed[1:] if rows is None else parsed[1 : rows + 1]
    return Table(
        header=_clean_header(parsed[0]),
        rows=body,
        encoding=used_encoding,
        delimiter=delimiter,
        kind="csv",
        truncated=more or (rows is not None and len(parsed) > rows + 1),
    )


def _complete_records(data: bytes) -> bytes:
    """``data`` cut after its last complete record (a newline outside quotes); UTF-16 is cut later."""
    if data.startswith(_UTF16_BOMS):
        return data[: len(data) - len(data) % 2]
    end, quotes, position = 0, 0, 0
    for line in data.splitlines(keepends=True):
        position += len(line)
        quotes += line.count(b'"')
        if quotes % 2 == 0 and line.endswith(b"\n"):
            end = position
    return data[:end] if end else data


def iter_records(handle: BinaryIO, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """``(byte offset, raw record)`` from ``start``: a record ends at a newline outside quotes.

    Works on the bytes of ASCII-compatible encodings (UTF-8, Windows-1252, Latin-1), which is what
    the worker's copy of every file is, so a chunk can start at a byte offset.
    """
    handle.seek(start)
    offset, pending, quotes = start, [], 0
    record_start = start
    for line in handle:
        pending.append(line)
        quotes += line.count(b'"')
        offset += len(line)
        if quotes % 2 == 0:
            yield record_start, b"".join(pending) if len(pending) > 1 else line
            pending, quotes, record_start = [], 0, offset
    if pending:
        yield record_start, b"".join(pending)


def _clean_header(raw: list[str]) -> list[str]:
    header: list[str] = []
    for index, name in enumerate(raw, start=1):
        name = name.strip().lstrip("\ufeff") or f"column_{index}"
        while name in header:
            name = f"{name}_{index}"
        header.append(name)
    return header


# --- .xlsx ---------------------------------------------------------------------------------------
def _check_zip(handle: BinaryIO) -> None:
    """Refuse a damaged ZIP and a bomb (members whose uncompressed size is over the cap) before
    openpyxl unpacks anything."""
    from django.conf import settings

    cap = int(getattr(settings, "C360_XLSX_MAX_UNCOMPRESSED", 300 * 1024 * 1024))
    try:
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise NotATable(
            _("This file starts like an Excel workbook (.xlsx) but is damaged or not a workbook.")
        ) from exc
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/worksheets/") for n in names):
        raise NotATable(_("This ZIP file is not an Excel workbook (.xlsx). Upload CSV or .xlsx."))
    unpacked = sum(m.file_size for m in members)
    if unpacked > cap:
        raise NotATable(
            _("This workbook unpacks to %(size)s MB; the limit is %(limit)s MB. Save it as CSV instead.")
            % {"size": round(unpacked / 1048576), "limit": round(cap / 1048576)}
        )
    handle.seek(0)


def _too_many_cells(cells: int, cap: int) -> NotATable:
    return NotATable(
        _("This workbook has more than %(cap)s cells (%(cells)s declared); save it as CSV instead.")
        % {"cap": f"{cap:,}", "cells": f"{cells:,}"}
    )


def iter_xlsx(handle: BinaryIO, sheet: str = "") -> Iterator[list[str]]:
    """The first sheet's non-empty rows as text, streamed (openpyxl read-only), within the caps:
    the declared size and the cells actually produced (gaps included) must stay under
    ``C360_XLSX_MAX_CELLS``, and a row is cut to the header's width."""
    from django.conf import settings
    from openpyxl import load_workbook

    cap = int(getattr(settings, "C360_XLSX_MAX_CELLS", 20_000_000))
    _check_zip(handle)
    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a broken workbook; all mean "unreadable"
        raise NotATable(_("This file is not a readable Excel workbook (.xlsx).")) from exc
    try:
        worksheet = workbook[sheet] if sheet and sheet in workbook.sheetnames else workbook.worksheets[0]
        declared = (worksheet.max_row or 0) * (worksheet.max_column or 0)
        if declared > cap:
            raise _too_many_cells(declared, cap)
        # Rows then come as wide as their own cells (not padded to a declared size we cannot trust).
        worksheet.reset_dimensions()
        yield from _xlsx_rows(worksheet, cap)
    except NotATable:
        raise
    except Exception as exc:
        raise NotATable(_("This file is not a readable Excel workbook (.xlsx).")) from exc
    finally:
        workbook.close()


def _xlsx_rows(worksheet, cap: int) -> Iterator[list[str]]:
    width, cells = MAX_COLUMNS, 0
    for values in worksheet.iter_rows(values_only=True):
        cells += max(len(values), 1)
        if cells > cap:
            raise _too_many_cells(cells, cap)
        row = ["" if v is None else _excel_text(v) for v in values[: width if width < MAX_COLUMNS else None]]
        if not any(c.strip() for c in row):
            continue
        if width == MAX_COLUMNS:  # the header fixes the width
            while row and not row[-1].strip():
                row.pop()
            if len(row) > MAX_COLUMNS:
                raise NotATable(
                    _("The first row of this workbook has more than %(cap)s columns; save it as CSV instead.")
                    % {"cap": MAX_COLUMNS}
                )
            width = max(len(row), 1)
        yield row


def read_xlsx(handle: BinaryIO, *, limit_rows: int | None = HEAD_ROWS, sheet: str = "") -> Table:
    rows = []
    for row in iter_xlsx(handle, sheet):
        rows.append(row)
        if limit_rows is not None and len(rows) > limit_rows:
            break
    if not rows:
        raise NotATable(_("The first sheet of the workbook is empty."))
    truncated = limit_rows is not None and len(rows) > limit_rows
    body = rows[1 : limit_rows + 1] if limit_rows is not None else rows[1:]
    return Table(header=_clean_header(rows[0]), rows=body, kind="xlsx", truncated=truncated)


def _excel_text(value) -> str:
    from datetime import date, datetime

    if isinstance(value, datetime):
        # Excel stores dates as datetimes at midnight.
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def neutralise(cell: str) -> str:
    """A cell that a spreadsheet would run as a formula (= + - @, tab, CR) gets a leading quote.

    Plain numbers such as "-6" stay as they are: a spreadsheet reads them as numbers, not formulas.
    """
    if cell and cell[0] in "=+-@\t\r" and not _NUMBER.match(cell):
        return "'" + cell
    return cell
