"""Celery tasks of data sources: take ids, fetch, return quietly when the row is gone."""

from __future__ import annotations

from celery import shared_task

from customer360.sources.models import ImportRun


@shared_task(name="customer360.sources.tasks.run_import")
def run_import(run_id: int) -> None:
    """Run one queued import. The conditional update claims it, so a redelivered task is a no-op."""
    from customer360.sources import services

    claimed = ImportRun.objects.filter(pk=run_id, status=ImportRun.Status.QUEUED).update(
        status=ImportRun.Status.RUNNING
    )
    if not claimed:
        return
    run = ImportRun.objects.select_related("source").get(pk=run_id)
    try:
        run = services.run_execute(run=run)
    except Exception as exc:
        # The run must not stay "running" forever; the admin sees the reason on the run page.
        ImportRun.objects.filter(pk=run_id).update(status=ImportRun.Status.FAILED, error=str(exc)[:2000])
        raise
    if run.created:
        find_duplicates.delay(run.source.slug)


@shared_task(name="customer360.sources.tasks.find_duplicates")
def find_duplicates(source_slug: str = "") -> int:
    """Propose likely duplicates into the review queue (all customers; blocking keeps it cheap)."""
    from customer360.sources import duplicates

    return duplicates.duplicates_find()
