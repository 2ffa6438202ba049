"""Running a file through the real import service in a test, and reading what the run says."""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from customer360.models import TimelineEvent
from customer360.sources import services, tasks
from customer360.sources.models import ImportRun


def run_file(source, text: str, mapping: dict, name: str = "upload.csv") -> ImportRun:
    """Upload, save the mapping and start like the UI does, then run the task synchronously."""
    run = services.run_create(source=source, uploaded=SimpleUploadedFile(name, text.encode()))
    services.run_start(run=run, mapping=mapping)  # its on_commit never fires inside the test
    tasks.run_import(run.pk)
    run.refresh_from_db()
    return run


def counts(run) -> tuple:
    return run.created, run.updated, run.unchanged, run.duplicate, run.failed


def errors(run) -> dict[str, str]:
    """Row number -> reasons, from the run's downloadable error file."""
    with run.error_file.open("rb") as handle:
        rows = csv.DictReader(io.StringIO(handle.read().decode("utf-8-sig")), delimiter=";")
        return {row["c360_row"]: row["c360_errors"] for row in rows}


def kinds(**filters) -> list[str]:
    return sorted(TimelineEvent.objects.filter(**filters).values_list("kind", flat=True))


def mapping(**columns) -> dict:
    return {"fields": [{"field": f, "column": c} for f, c in columns.items()], "options": {}}
