"""Running imports and the preview's whole-file check in tests: the real task functions, synchronously."""

from django.core.files.uploadedfile import SimpleUploadedFile

from customer360.sources import services, tasks
from customer360.sources.models import ImportRun


def run_import(source, data: bytes, mapping: dict, name: str = "upload.csv") -> ImportRun:
    run = services.run_create(source=source, uploaded=SimpleUploadedFile(name, data))
    ImportRun.objects.filter(pk=run.pk).update(mapping=mapping, status=ImportRun.Status.QUEUED)
    tasks.run_import(run.pk)
    run.refresh_from_db()
    return run


def preview_checked(client, run: ImportRun, form: dict) -> str:
    """POST the mapping form's preview, run the whole-file check it queued (the worker's task), and
    return the check as the polling page then gets it."""
    client.post(f"/sources/runs/{run.pk}/mapping/", {**form, "action": "preview"}, HTTP_HX_REQUEST="true")
    run.refresh_from_db()
    tasks.check_file.run(run.pk, run.check_job_id)
    return client.get(f"/sources/runs/{run.pk}/check/?job={run.check_job_id}").content.decode()
