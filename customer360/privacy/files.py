"""Uploaded import files and their error files: the lines that name an erased person go.

Files are read and rewritten through Django's storage API (no local paths), so this works the
same on a shared volume or an object store. A line is dropped when one of the person's terms
(e-mail, phone, external id, name, customer number) occurs in it; the header line stays. An Excel
workbook is rewritten the same way, row by row on every sheet (values only: an import file's
formatting carries no data); only a workbook that still names the person after that (in a header
or a sheet name) or that cannot be read goes as a whole. The UTF-8 work copy an import made of a
workbook or a UTF-16 file is rewritten like any CSV.
"""

from __future__ import annotations

import io
import logging
import zipfile

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from customer360.sources.models import ImportRun

logger = logging.getLogger(__name__)


def _decode(data: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def strip_lines(data: bytes, needles) -> bytes | None:
    """``data`` without the lines that name the person, or None when none does."""
    text, encoding = _decode(data)
    lines = text.splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if not needles.found_in(line)]
    if len(kept) == len(lines):
        return None
    prefix = "\ufeff" if encoding == "utf-8-sig" and data.startswith(b"\xef\xbb\xbf") else ""
    return (prefix + "".join(kept)).encode("utf-8" if encoding == "utf-8-sig" else encoding)


def _rewrite(name: str, needles) -> str | None:
    """None when the file does not name the person; else the name it is stored under now ("" when
    it had to go as a whole)."""
    if not name or not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
    if data[:4] == b"PK\x03\x04":
        if not _xlsx_names(data, needles):
            return None
        stripped = _xlsx_without(data, needles)
        if stripped is None or _xlsx_names(stripped, needles):
            default_storage.delete(name)  # unreadable, or it names the person beyond its rows
            return ""
    else:
        stripped = strip_lines(data, needles)
        if stripped is None:
            return None
    default_storage.delete(name)
    return default_storage.save(name, ContentFile(stripped))


def _xlsx_names(data: bytes, needles) -> bool:
    """Does any part of the workbook (cells, shared strings, sheet names, properties) name the person?"""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                if member.endswith(".xml") and needles.found_in(
                    archive.read(member).decode("utf-8", "ignore")
                ):
                    return True
    except zipfile.BadZipFile:
        return False
    return False


def _row_names(values, needles) -> bool:
    return needles.found_in(" | ".join(str(v) for v in values if v is not None))


def _xlsx_without(data: bytes, needles) -> bytes | None:
    """The workbook with every row after each sheet's first that names the person left out, or
    None when openpyxl cannot read it. Streamed (read-only in, write-only out)."""
    from openpyxl import Workbook, load_workbook

    try:
        source = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on a broken workbook; all mean "unreadable"
        return None
    target = Workbook(write_only=True)
    try:
        for sheet in source.worksheets:
            copy = target.create_sheet(title=sheet.title)
            for number, values in enumerate(sheet.iter_rows(values_only=True)):
                if number == 0 or not _row_names(values, needles):
                    copy.append(values)
        out = io.BytesIO()
        target.save(out)
    except Exception:
        logger.warning("an import workbook could not be rewritten")
        return None
    finally:
        source.close()
    return out.getvalue()


def scrub_import_files(needles) -> int:
    """Rewrite every upload, work copy and error file that names the person; returns the files changed."""
    changed = 0
    fields = ("file", "work_file", "error_file")
    for run in ImportRun.objects.only("id", *fields).iterator():
        for field in fields:
            name = getattr(run, field).name
            stored = _rewrite(name, needles)
            if stored is None:
                continue
            changed += 1
            if stored != name:  # removed, or the storage chose another name: the run follows
                ImportRun.objects.filter(pk=run.pk).update(**{field: stored})
    return changed
