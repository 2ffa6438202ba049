"""The preview's check of the whole file as the worker's job (issue #15, build 2).

The mapping page answers with the first rows at once and starts the check (:func:`run_check_start`):
a :class:`~customer360.models.Job` row with the fingerprint of the run's mapping, and a task on the
import queue (``tasks.check_file``) that maps every row as the run will and advances the job's
progress after each block of rows. The page polls :func:`run_check_state`, which shows a result only
for the mapping the run has now: another mapping starts another check, and the old one stops.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customer360.models import Job
from customer360.sources import services
from customer360.sources.checking import FileCheck
from customer360.sources.models import ImportRun
from customer360.sources.reading import NotATable
from customer360.sources.services import checked_mapping

logger = logging.getLogger(__name__)

CHECK_JOB_KIND = "sources.file_check"
#: the check task's hard time limit (``tasks.check_file``; far below the broker's visibility timeout)
CHECK_HARD_LIMIT = 300


class CheckSuperseded(Exception):
    """The run's mapping changed while its check ran: a newer check is under way."""


def run_check_key(run: ImportRun, mapping: dict) -> str:
    """What a check's result belongs to: the run's file with this mapping (options and locale too)."""
    text = json.dumps(checked_mapping(run, mapping), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{run.pk}:{text}".encode()).hexdigest()[:32]


def check_is_lost(job: Job) -> bool:
    """A check queued or running for longer than the task may run: its worker is gone (or none runs)."""
    if job.status not in (Job.Status.QUEUED, Job.Status.RUNNING):
        return False
    since = job.started_at or job.created_at
    return since < timezone.now() - timedelta(seconds=CHECK_HARD_LIMIT + 60)


def run_check_start(*, run: ImportRun, mapping: dict, user=None) -> Job:
    """Save ``mapping`` on the run and have the worker check the whole file with it.

    The check is a Job row (progress, then the result or why it failed) that the mapping page polls;
    its task goes to the import queue after commit. A result belongs to this run and mapping only:
    another mapping starts another check, and the old one stops at its next block of rows. The same
    mapping again reuses its check, unless that one failed or its worker was lost.
    """
    key = run_check_key(run, mapping)
    current = Job.objects.filter(pk=run.check_job_id).first() if run.check_job_id else None
    ImportRun.objects.filter(pk=run.pk).update(mapping=mapping)
    run.mapping = mapping
    reusable = current is not None and current.result.get("mapping") == key
    if reusable and current.status != Job.Status.FAILED and not check_is_lost(current):
        return current
    if current is not None and current.is_finished:  # never shown again; its rows quote cells
        current.delete()
    job = Job.objects.create(
        kind=CHECK_JOB_KIND,
        label=f"Check the file of import run {run.pk}",
        created_by=user if getattr(user, "is_authenticated", False) else None,
        # the user's language: the worker writes the reasons of refused rows in it
        result={"run": run.pk, "mapping": key, "language": translation.get_language() or ""},
    )
    ImportRun.objects.filter(pk=run.pk).update(check_job=job)
    run.check_job = job
    queue = getattr(settings, "C360_IMPORT_QUEUE", "default")
    transaction.on_commit(lambda: _send_check(run.pk, job.pk, queue))
    return job


def _send_check(run_id: int, job_id: int, queue: str) -> None:
    from kombu.exceptions import OperationalError as BrokerError

    from customer360.celery import task

    try:
        task("customer360.sources.tasks.check_file").apply_async(args=[run_id, job_id], queue=queue)
    except (BrokerError, OSError) as exc:
        logger.warning("file check %s of run %s not queued: %s", job_id, run_id, exc.__class__.__name__)
        _check_failed(job_id, _("The worker could not be reached. Preview again in a moment."))


def _check_failed(job_id: int, error: str) -> None:
    Job.objects.filter(pk=job_id, status__in=(Job.Status.QUEUED, Job.Status.RUNNING)).update(
        status=Job.Status.FAILED, error=error, finished_at=timezone.now()
    )


def run_check_execute(*, run_id: int, job_id: int) -> str:
    """The worker's check of a run's whole file for the mapping its Job was started with.

    Claims the queued Job, advances its progress after each block of rows (with the estimated number
    of rows), and ends with the result in ``Job.result["check"]`` or the reason in ``Job.error``, in
    the language of the user who asked. Returns ``done``, ``failed``, ``superseded`` or ``gone``.
    """
    from celery.exceptions import SoftTimeLimitExceeded

    claimed = Job.objects.filter(pk=job_id, kind=CHECK_JOB_KIND, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=timezone.now()
    )
    job = Job.objects.filter(pk=job_id).first()
    run = ImportRun.objects.select_related("source").filter(pk=run_id).first()
    if not claimed or job is None:
        return "gone"
    with translation.override(job.result.get("language") or settings.LANGUAGE_CODE):
        if run is None or not _is_current(run, job):
            _check_failed(job.pk, _("The mapping changed; a newer check replaces this one."))
            return "superseded"
        checked = 0

        def progress(rows: int, estimate: int) -> None:
            nonlocal checked
            checked += rows
            job.advance(rows, total=max(_about(estimate), checked))
            if not ImportRun.objects.filter(pk=run.pk, check_job=job.pk).exists():
                raise CheckSuperseded

        try:
            check = services.run_check(run=run, mapping=run.mapping, progress=progress)
        except CheckSuperseded:
            _check_failed(job.pk, _("The mapping changed; a newer check replaces this one."))
            return "superseded"
        except NotATable as exc:
            _check_failed(job.pk, str(exc))
            return "failed"
        except SoftTimeLimitExceeded:
            _check_failed(job.pk, _("The check took longer than the worker may take for it and was stopped."))
            return "failed"
        except Exception as exc:  # reported on the page; the log names the kind of error, no values
            logger.warning("file check %s of run %s failed: %s", job.pk, run.pk, exc.__class__.__name__)
            _check_failed(job.pk, _("The check failed (%(error)s).") % {"error": exc.__class__.__name__})
            return "failed"
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=Job.Status.DONE,
        done=check.rows,
        total=check.rows,
        result={**job.result, "check": check.as_json()},
        finished_at=timezone.now(),
    )
    return "done"


def _about(estimate: int) -> int:
    """An estimate to three significant digits (~700,000 rather than ~700,082)."""
    digits = max(0, len(str(estimate)) - 3)
    return round(estimate, -digits) if digits else estimate


def _is_current(run: ImportRun, job: Job) -> bool:
    """The job is the run's check, and for the mapping the run has now."""
    return run.check_job_id == job.pk and job.result.get("mapping") == run_check_key(run, run.mapping)


def run_check_state(run: ImportRun, job_id: int | None = None) -> dict:
    """What the mapping page shows of the run's check: ``job`` (None if there is none for the run's
    mapping now), ``check`` (the result, once done), ``lost`` and ``superseded`` (the page polled
    ``job_id``, but the mapping changed since: the old result is never shown)."""
    job = Job.objects.filter(pk=run.check_job_id).first() if run.check_job_id else None
    if job is not None and not _is_current(run, job):
        job = None
    superseded = job_id is not None and (job is None or job.pk != job_id)
    if superseded:
        job = None
    check = None
    if job is not None and job.status == Job.Status.DONE and "check" in job.result:
        check = FileCheck.from_json(job.result["check"])
    return {
        "check_job": job,
        "check": check,
        "check_lost": job is not None and check_is_lost(job),
        "check_superseded": superseded,
    }
