"""Celery tasks of billing: the daily dunning run and the delivery of e-mail notices.

Beat entry (in ``customer360/celery.py``'s ``beat_schedule``)::

    "billing-dunning-run": {"task": "billing.tasks.run_dunning", "schedule": crontab(hour=6, minute=0)},
"""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from billing import services
from billing.models import DunningNotice
from customer360.models import Job

logger = logging.getLogger(__name__)

JOB_KIND = "billing.dunning_run"


@shared_task(name="billing.tasks.run_dunning", acks_late=True)
def run_dunning(job_id: int | None = None, today: str | None = None) -> dict:
    """The daily dunning run. Safe to rerun: escalations are claimed per invoice, level and day.

    ``job_id`` names a :class:`~customer360.models.Job` row the UI shows (created when absent).
    """
    day = parse_date(today) if today else timezone.localdate()
    job = Job.objects.filter(pk=job_id).first() if job_id else None
    if job_id and job is None:
        return {}
    if job is None:
        job = Job.objects.create(kind=JOB_KIND, label=f"Dunning run {day.isoformat()}")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now())
    try:
        result = services.dunning_run(today=day)
    except Exception as exc:
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED, error=exc.__class__.__name__, finished_at=timezone.now()
        )
        raise
    summary = result.as_dict()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.DONE, result=summary, total=summary["total"], done=summary["total"],
        finished_at=timezone.now(),
    )  # fmt: skip
    # Delivery is an external side effect: only after the notices are committed.
    for notice_id in result.notice_ids:
        transaction.on_commit(lambda pk=notice_id: send_dunning_notice.delay(pk))
    return summary


def start_dunning_run(*, user=None, today=None) -> Job:
    """Queue a run now (the "run dunning now" button and the API): a Job row, the task after commit."""
    day = today or timezone.localdate()
    job = Job.objects.create(
        kind=JOB_KIND,
        label=f"Dunning run {day.isoformat()}",
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    transaction.on_commit(lambda: run_dunning.delay(job_id=job.pk, today=day.isoformat()))
    return job


@shared_task(
    name="billing.tasks.send_dunning_notice",
    autoretry_for=(smtplib.SMTPException, ConnectionError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def send_dunning_notice(notice_id: int) -> None:
    """E-mail a notice of the e-mail channel (letters are printed from the notice list)."""
    notice = DunningNotice.objects.select_related("invoice__customer").filter(pk=notice_id).first()
    if notice is None or notice.channel != "email" or not notice.invoice.customer.email:
        return
    subject = (
        f"Zahlungserinnerung {notice.invoice.number}"
        if notice.language == "de"
        else f"Payment reminder {notice.invoice.number}"
    )
    # Claim first so a retried or duplicated task never mails the customer twice.
    if not DunningNotice.objects.filter(pk=notice_id, delivered_at__isnull=True).update(
        delivered_at=timezone.now()
    ):
        return
    try:
        send_mail(subject, notice.text, None, [notice.invoice.customer.email])
    except Exception:
        DunningNotice.objects.filter(pk=notice_id).update(delivered_at=None)
        raise
    logger.info("dunning notice %s sent", notice_id)
