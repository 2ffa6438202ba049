"""Reading uploaded files into rows: CSV in the usual encodings and delimiters, and .xlsx.

Everything is read as text; types come later from the field mapping. Cells are never evaluated
(a cell "=1+1" stays the text "=1+1"); see :func:`neutralise` for writing them back out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

DELIMITERS = {
    ",": gettext_lazy("comma"),
    ";": gettext_lazy("semicolon"),
    "\t": gettext_lazy("tab"),
    "|": gettext_lazy("pipe"),
}
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252")
_XLSX_MAGIC = b"PK\x03\x04"
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

    def records(self) -> Iterator[tuple[int, dict[str, str]]]:
        """``(row number in the file, {column: value})``; row 1 is the header, data starts at 2."""
        width = len(self.header)
        for index, row in enumerate(self.rows, start=2):
            if len(row) < width:
                row = row + [""] * (width - len(row))
            yield index, dict(zip(self.header, row, strict=False))


def decode(data: bytes, encoding: str = "") -> tuple[str, str]:
    """Text and the encoding used: a BOM wins, then strict UTF-8, then Windows-1252."""
    if encoding and encoding != "auto":
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise NotATable(_("The file cannot be read as %(encoding)s.") % {"encoding": encoding}) from exc
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


def read_table(data: bytes, *, encoding: str = "", delimiter: str = "", sheet: str = "") -> Table:
    """Read ``data`` (the file's bytes) as a table or raise :class:`NotATable`."""
    if not data.strip():
        raise NotATable(_("The file is empty."))
    if data.startswith(_XLSX_MAGIC):
        return _read_xlsx(data, sheet)
    head = data[:4096]
    if b"\x00" in head or head.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8", b"GIF8")):
        raise NotATable(_("This file is not a table (it looks like a binary file). Upload CSV or .xlsx."))
    text, used_encoding = decode(data, encoding)
    if not delimiter:
        delimiter = sniff_delimiter(text) or _single_column(text)
        if not delimiter:
            raise NotATable(
                _(
                    "This file does not look like a table: no comma, semicolon or tab separates "
                    "columns consistently in its first lines."
                )
            )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise NotATable(_("The file cannot be read as CSV: %(error)s") % {"error": exc}) from exc
    if not rows:
        raise NotATable(_("The file is empty."))
    header = _clean_header(rows[0])
    return Table(header=header, rows=rows[1:], encoding=used_encoding, delimiter=delimiter, kind="csv")


def _clean_header(raw: list[str]) -> list[str]:
    header: list[str] = []
    for index, name in enumerate(raw, start=1):
        name = name.strip().lstrip("\ufeff") or f"column_{index}"
        while name in header:
            name = f"{name}_{index}"
        header.append(name)
    return header


def _read_xlsx(data: bytes, sheet: str) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise NotATable(_("This file is not a readable Excel workbook (.xlsx).")) from exc
    worksheet = workbook[sheet] if sheet and sheet in workbook.sheetnames else workbook.worksheets[0]
    rows = []
    for values in worksheet.iter_rows(values_only=True):
        cells = ["" if v is None else _excel_text(v) for v in values]
        if any(c.strip() for c in cells):
            rows.append(cells)
    workbook.close()
    if not rows:
        raise NotATable(_("The first sheet of the workbook is empty."))
    return Table(header=_clean_header(rows[0]), rows=rows[1:], encoding="", delimiter="", kind="xlsx")


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
