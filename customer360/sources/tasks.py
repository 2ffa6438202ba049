"""Celery tasks of data sources: take ids, fetch, return quietly when the row is gone.

Import tasks write chunks for ``C360_IMPORT_TASK_SECONDS`` (60 s) and then hand the rest to a fresh
task, so no task comes near its time limits (soft 240 s, hard 300 s), which stay far below the
broker's visibility timeout: a task is never delivered twice because it ran long. If it is anyway
(a lost worker, a redelivery), the second copy finds the run locked or the chunk written and the
checkpoint moved (see ``customer360.sources.chunks``).
"""

from __future__ import annotations

from celery import shared_task

IMPORT_SOFT_LIMIT = 240
IMPORT_HARD_LIMIT = 300


@shared_task(
    name="customer360.sources.tasks.run_import",
    soft_time_limit=IMPORT_SOFT_LIMIT,
    time_limit=IMPORT_HARD_LIMIT,
)
def run_import(run_id: int) -> str:
    """Continue an import at its checkpoint; a queued, running or re-claimed run is taken over."""
    from customer360.sources import chunks

    outcome = chunks.work(run_id)
    if outcome == "handover":
        chunks.enqueue(run_id)
    return outcome


@shared_task(
    name="customer360.sources.tasks.check_file",
    soft_time_limit=IMPORT_SOFT_LIMIT,  # the check stops reading after C360_PREVIEW_CHECK_SECONDS
    time_limit=IMPORT_HARD_LIMIT,
)
def check_file(run_id: int, job_id: int) -> str:
    """The preview's check of the whole file (every row mapped as the run will, nothing written);
    the job row shows its progress and then the result on the mapping page."""
    from customer360.sources import file_checks

    return file_checks.run_check_execute(run_id=run_id, job_id=job_id)


@shared_task(name="customer360.sources.tasks.reclaim_stalled_imports", soft_time_limit=60, time_limit=90)
def reclaim_stalled_imports() -> list[int]:
    """Beat: runs whose worker vanished (no progress for C360_IMPORT_STALLED_MINUTES) go on."""
    from customer360.sources import chunks

    return chunks.reclaim_stalled()


@shared_task(name="customer360.sources.tasks.find_duplicates")
def find_duplicates(source_slug: str = "") -> int:
    """Propose likely duplicates into the review queue. After an import (``source_slug`` given)
    only what is new since the last scan is compared; without it (the queue's button) everyone."""
    from customer360.sources import duplicates

    if source_slug:
        return duplicates.duplicates_find_new()
    return duplicates.duplicates_find()


@shared_task(name="customer360.sources.tasks.rekey_identities", soft_time_limit=240, time_limit=300)
def rekey_identities() -> dict:
    """A source now shares another's customer ids: its ids move there (clashes become candidates)."""
    from customer360.sources import identity

    return identity.identities_rekey()


@shared_task(
    name="customer360.sources.tasks.undo_import",
    soft_time_limit=IMPORT_SOFT_LIMIT,
    time_limit=IMPORT_HARD_LIMIT,
)
def undo_import(run_id: int, job_id: int) -> dict:
    """Undo an import run (one transaction); the job row shows progress, status and the result."""
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from customer360.models import Job
    from customer360.sources import undo
    from customer360.sources.models import ImportRun

    job = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).first()
    run = ImportRun.objects.filter(pk=run_id).first()
    if job is None or run is None:
        return {}
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now())
    try:
        result = undo.run_undo(run=run, user=job.created_by, job=job)
    except ValidationError as exc:
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED, error="; ".join(exc.messages), finished_at=timezone.now()
        )
        return {}
    except Exception as exc:
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED, error=exc.__class__.__name__, finished_at=timezone.now()
        )
        raise
    Job.objects.filter(pk=job.pk).update(status=Job.Status.DONE, result=result, finished_at=timezone.now())
    return result
