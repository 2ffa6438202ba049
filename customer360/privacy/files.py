"""Uploaded import files and their error files: the lines that name an erased person go.

Files are read and rewritten through Django's storage API (no local paths), so this works the
same on a shared volume or an object store. A line is dropped when one of the person's terms
(e-mail, phone, external id, name, customer number) occurs in it; the header line stays.
"""

from __future__ import annotations

import logging

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


def _rewrite(name: str, needles) -> bool:
    if not name or not default_storage.exists(name):
        return False
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
    if data[:4] == b"PK\x03\x04":
        # An Excel workbook cannot be rewritten line by line: it goes if it names the person.
        if not _xlsx_names(data, needles):
            return False
        default_storage.delete(name)
        return True
    stripped = strip_lines(data, needles)
    if stripped is None:
        return False
    default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(stripped))
    if saved != name:  # the storage chose another name: keep the run pointing at the file
        logger.warning("rewritten import file stored under another name")
    return True


def _xlsx_names(data: bytes, needles) -> bool:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.namelist():
            if member.endswith(".xml") and needles.found_in(archive.read(member).decode("utf-8", "ignore")):
                return True
    return False


def scrub_import_files(needles) -> int:
    """Rewrite every upload and error file that names the person; returns the files changed."""
    changed = 0
    for run in ImportRun.objects.only("id", "file", "error_file").iterator():
        for name in (run.file.name, run.error_file.name):
            if _rewrite(name, needles):
                changed += 1
    return changed
