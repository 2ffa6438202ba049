"""One export path for every list and drill-down: XLSX (openpyxl, write-only so memory stays flat)
or CSV in the reader's locale (";" for German, "," for English, UTF-8 with BOM so Excel reads
umlauts and splits the columns). Bounded: past ``EXPORT_LIMIT`` rows the user gets a clear 400
asking to narrow the filter instead of a half file or a worker killed by memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from customer360.audit.access import Action, record_access
from customer360.replica import replica_reads

EXPORT_LIMIT = 100_000
FORMATS = ("csv", "xlsx")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ExportTooLarge(Exception):
    """More rows than an export may carry."""


def requested_format(request: HttpRequest) -> str | None:
    """``?export=xlsx`` or ``?export=csv`` (``format=`` is accepted too); anything else: no export."""
    value = request.GET.get("export") or request.GET.get("format") or ""
    return value if value in FORMATS else None


def csv_delimiter(language: str | None = None) -> str:
    """The list separator a spreadsheet of this language expects (German Excel splits on ";")."""
    language = (language or get_language() or "en").split("-")[0]
    return ";" if language in {"de", "fr", "it", "es", "nl", "pl", "pt"} else ","


def safe_text(value) -> object:
    """A cell a spreadsheet will not run as a formula: text starting with = + - @ (or tab/CR) gets a
    leading apostrophe. Numbers and dates stay typed; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | Decimal | date):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _plain(value):
    """XLSX cells cannot hold time-zone-aware datetimes: local wall-clock time instead."""
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


def _bounded(rows: Iterable[Sequence], limit: int):
    for count, row in enumerate(rows, start=1):
        if count > limit:
            raise ExportTooLarge
        yield row


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence], *, limit: int = EXPORT_LIMIT) -> bytes:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=csv_delimiter())
    writer.writerow([safe_text(str(c)) for c in columns])
    for row in _bounded(rows, limit):
        writer.writerow([_csv_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def _csv_cell(value):
    value = safe_text(_plain(value))
    if isinstance(value, float | Decimal) and csv_delimiter() == ";":
        return str(value).replace(".", ",")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value


def xlsx_bytes(columns: Sequence[str], rows: Iterable[Sequence], *, limit: int = EXPORT_LIMIT) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Export"))
    sheet.append([str(c) for c in columns])
    for row in _bounded(rows, limit):
        sheet.append([safe_text(_plain(v)) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_response(
    rows: Iterable[Sequence], columns: Sequence[str], filename: str, fmt: str, *, limit: int = EXPORT_LIMIT
) -> HttpResponse:
    """The file download for ``rows`` under ``columns``; ``filename`` without extension."""
    if fmt not in FORMATS:
        return HttpResponse(_("Unknown export format."), status=400, content_type="text/plain; charset=utf-8")
    try:
        with replica_reads():  # an export tolerates a replica's lag (issue #18)
            if fmt == "xlsx":
                response = HttpResponse(xlsx_bytes(columns, rows, limit=limit), content_type=XLSX_TYPE)
            else:
                response = HttpResponse(
                    csv_bytes(columns, rows, limit=limit), content_type="text/csv; charset=utf-8"
                )
    except ExportTooLarge:
        message = _("This list has more than %(limit)s rows. Narrow the filter to export it.") % {
            "limit": f"{limit:,}"
        }
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


def logged_export_response(
    request: HttpRequest,
    records: Iterable[tuple[Iterable[int], Sequence]],
    columns: Sequence[str],
    filename: str,
    fmt: str,
    *,
    what: str,
    limit: int = EXPORT_LIMIT,
) -> HttpResponse:
    """``export_response`` for rows that hold customer data: ``records`` yields (ids of the customers
    a row is about, row). A file handed out is one access-log row naming those customers; a refused
    export (unknown format, too many rows) hands nothing out and logs nothing."""
    customers: list[int] = []
    counted = 0

    def rows():
        nonlocal counted
        for ids, row in records:
            customers.extend(ids)
            counted += 1
            yield row

    response = export_response(rows(), columns, filename, fmt, limit=limit)
    if response.status_code == 200:
        record_access(request, Action.EXPORT, customers=customers, rows=counted, what=what)
    return response
