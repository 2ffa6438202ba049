"""Running imports in tests: the real task function, synchronously."""

from django.core.files.uploadedfile import SimpleUploadedFile

from customer360.sources import services, tasks
from customer360.sources.models import ImportRun


def run_import(source, data: bytes, mapping: dict, name: str = "upload.csv") -> ImportRun:
    run = services.run_create(source=source, uploaded=SimpleUploadedFile(name, data))
    ImportRun.objects.filter(pk=run.pk).update(mapping=mapping, status=ImportRun.Status.QUEUED)
    tasks.run_import(run.pk)
    run.refresh_from_db()
    return run
