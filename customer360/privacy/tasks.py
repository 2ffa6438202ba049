"""Celery tasks of data subject requests: take ids, claim by a conditional update, call a service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from customer360.privacy.models import SubjectExport


@shared_task(name="customer360.privacy.tasks.build_subject_export")
def build_subject_export(export_id: int) -> None:
    """Build one queued export; a redelivered task finds it claimed and does nothing."""
    from customer360.privacy import exports

    claimed = SubjectExport.objects.filter(pk=export_id, status=SubjectExport.Status.QUEUED).update(
        status=SubjectExport.Status.RUNNING
    )
    if not claimed:
        return
    export = SubjectExport.objects.select_related("customer").get(pk=export_id)
    try:
        exports.subject_export_build(export=export)
    except Exception as exc:
        SubjectExport.objects.filter(pk=export_id).update(
            status=SubjectExport.Status.FAILED, error=type(exc).__name__, finished_at=timezone.now()
        )
        raise


@shared_task(name="customer360.privacy.tasks.execute_erasure")
def execute_erasure(request_id: int) -> None:
    """Execute one approved erasure request (claimed once; a failure leaves it "failed")."""
    from customer360.privacy import erasure

    erasure.erasure_execute(request_id=request_id)
