"""Subject access and portability (GDPR Art. 15, 20): one ZIP with everything every app holds.

The worker asks each registered contributor (``registry.subject_data``) for its rows and writes
``<contributor>/<kind>.json`` and ``.csv`` per kind, ``export.json`` (counts per kind) and a
README.txt that explains the files. The ZIP is stored through Django's storage API.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import secrets
import zipfile

from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from customer360 import celery
from customer360.models import Customer
from customer360.privacy.models import SubjectExport
from customer360.privacy.registry import subject_data

logger = logging.getLogger(__name__)

README = """Subject access export (GDPR Art. 15 and 20)

Customer: {number}
Created: {created}

Everything this Customer 360 installation holds about the person, as collected from every part
of the application. Each kind of record is in two files with the same rows:

  <part>/<kind>.json   the rows as JSON (a list of objects), for reading back by machines
  <part>/<kind>.csv    the same rows as CSV (UTF-8, comma separated), for spreadsheets

export.json lists every file with its number of rows.

Files in this export:
{files}
"""


def subject_export_start(*, customer: Customer, user) -> SubjectExport:
    """Queue an export; the worker starts after commit."""
    export = SubjectExport.objects.create(customer=customer, requested_by=user)
    transaction.on_commit(
        lambda: celery.task("customer360.privacy.tasks.build_subject_export").delay(export.pk)
    )
    return export


def _csv(rows: list[dict]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, cls=DjangoJSONEncoder, ensure_ascii=False)
                if isinstance(v, dict | list)
                else v
                for k, v in row.items()
            }
        )
    return buffer.getvalue()


def collect(customer: Customer, progress=None) -> dict[str, dict[str, list[dict]]]:
    """``{contributor key: {kind: rows}}`` from every registered contributor."""
    collected = {}
    for item in subject_data.all():
        collected[item.key] = {kind: list(rows) for kind, rows in item.export(customer).items()}
        if progress:
            progress()
    return collected


def write_zip(customer: Customer, collected: dict) -> tuple[bytes, dict[str, int]]:
    counts: dict[str, int] = {}
    listing: list[str] = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, kinds in collected.items():
            label = subject_data.items[key].label
            for kind, rows in kinds.items():
                name = f"{key}/{kind}"
                counts[f"{key}.{kind}"] = len(rows)
                archive.writestr(
                    f"{name}.json", json.dumps(rows, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1)
                )
                archive.writestr(f"{name}.csv", _csv(rows))
                listing.append(f"  {name}.json / .csv: {len(rows)} rows ({label}: {kind})")
        archive.writestr("export.json", json.dumps({"customer": customer.customer_number, "counts": counts}))
        archive.writestr(
            "README.txt",
            README.format(
                number=customer.customer_number, created=timezone.now().isoformat(), files="\n".join(listing)
            ),
        )
    return buffer.getvalue(), counts


def subject_export_build(*, export: SubjectExport) -> SubjectExport:
    """Collect, write and store the ZIP; the row shows progress per contributor."""
    customer = export.customer
    SubjectExport.objects.filter(pk=export.pk).update(
        status=SubjectExport.Status.RUNNING, total=len(subject_data.all()) + 1, done=0
    )

    def advance() -> None:
        SubjectExport.objects.filter(pk=export.pk).update(done=F("done") + 1)

    collected = collect(customer, progress=advance)
    data, counts = write_zip(customer, collected)
    export.file.save(f"export-{export.pk}-{secrets.token_hex(8)}.zip", ContentFile(data), save=False)
    SubjectExport.objects.filter(pk=export.pk).update(
        status=SubjectExport.Status.DONE,
        file=export.file.name,
        counts=counts,
        done=len(subject_data.all()) + 1,
        finished_at=timezone.now(),
    )
    logger.info("subject export %s done: %s rows", export.pk, sum(counts.values()))
    export.refresh_from_db()
    return export
