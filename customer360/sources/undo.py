"""Undoing an import run: what it created is removed, what it changed gets its earlier values back.

The change history knows both: every row an import writes carries the run in its history context
(``chunks.write_chunk``), so the history's inserts of the run are what it created (customers,
identities, department records through the targets) and its updates are what it changed; the
values before are each record's last history row from before the run. Timeline events are not
under history: the run's are those its source recorded while it ran, those about the records it
created, and those of the customers it created (they go with them).

The history exists on PostgreSQL only; on SQLite an undo is refused with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from customer360.audit import history
from customer360.models import Customer, DataSource, Job, TimelineEvent, customer_deletion_allowed
from customer360.sources.models import DuplicateCandidate, ImportRun

_BATCH = 2000


@dataclass
class UndoPlan:
    """What undoing the run would do: rows to delete and rows to restore, per model."""

    created: dict[type[models.Model], list[int]] = field(default_factory=dict)
    restored: dict[type[models.Model], dict[int, dict]] = field(default_factory=dict)
    events: list[int] = field(default_factory=list)
    #: records the run changed whose earlier values the history does not hold
    unrestorable: int = 0

    def lines(self) -> list[tuple[str, int, int]]:
        """``(what, removed, restored)`` per kind of record, for the preview."""
        models_ = sorted({*self.created, *self.restored}, key=lambda m: m._meta.label)
        rows = [
            (
                capfirst(str(m._meta.verbose_name_plural)),
                len(self.created.get(m, [])),
                len(self.restored.get(m, {})),
            )
            for m in models_
        ]
        rows.append((capfirst(str(TimelineEvent._meta.verbose_name_plural)), len(self.events), 0))
        return rows

    @property
    def total(self) -> int:
        return (
            sum(len(v) for v in self.created.values())
            + sum(len(v) for v in self.restored.values())
            + len(self.events)
        )


def undo_refusal(run: ImportRun) -> str:
    """Why this run cannot be undone, in words; "" when it can."""
    if not history.enabled():
        return _(
            "Undo needs the change history, which only PostgreSQL keeps; this database is SQLite, "
            "so what the run changed cannot be restored."
        )
    if run.undone_at:
        return _("This run has already been undone.")
    if run.status in (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING):
        return _("The run is still going; cancel it first.")
    if not run.started_at:
        return _("This run wrote nothing.")
    return ""


def _in_run(run: ImportRun) -> Q:
    return Q(pgh_context__run=run.pk) & Q(pgh_context__path="import")


def _existing(model, pks) -> list[int]:
    pks, found = sorted(set(pks)), []
    for start in range(0, len(pks), _BATCH):
        found += model._base_manager.filter(pk__in=pks[start : start + _BATCH]).values_list("pk", flat=True)
    return sorted(found)


def _before_values(history_model, updates: dict[int, int], created: set[int]) -> tuple[dict[int, dict], int]:
    """Each changed record's values from its last history row before the run's first change."""
    tracked = history_model.pgh_tracked_model
    kept = {f.attname for f in history_model._meta.concrete_fields}
    names = [f.attname for f in tracked._meta.concrete_fields if not f.primary_key and f.attname in kept]
    restored, missing = {}, 0
    ids = sorted(pk for pk in updates if pk not in created)
    for start in range(0, len(ids), _BATCH):
        part = ids[start : start + _BATCH]
        cutoff = min(updates[pk] for pk in part)
        earlier = (
            history_model.objects.filter(pgh_obj_id__in=part, pgh_id__lt=cutoff)
            .order_by("pgh_obj_id", "-pgh_id")
            .distinct("pgh_obj_id")
            .values("pgh_obj_id", *names)
        )
        found = {row.pop("pgh_obj_id"): row for row in earlier}
        missing += len(set(part) - set(found))
        restored.update(found)
    return restored, missing


def run_undo_plan(run: ImportRun) -> UndoPlan:
    """What undoing ``run`` removes and restores (read only; PostgreSQL)."""
    plan = UndoPlan()
    for history_model in history.history_models():
        tracked = history_model.pgh_tracked_model
        rows = history_model.objects.filter(_in_run(run))
        inserted = set(rows.filter(pgh_label="insert").values_list("pgh_obj_id", flat=True))
        first_update: dict[int, int] = {}
        for obj_id, pgh_id in (
            rows.filter(pgh_label="update").order_by("pgh_id").values_list("pgh_obj_id", "pgh_id")
        ):
            first_update.setdefault(obj_id, pgh_id)
        created = _existing(tracked, inserted)
        if created:
            plan.created[tracked] = created
        if first_update:
            restored, missing = _before_values(history_model, first_update, inserted)
            if restored:
                plan.restored[tracked] = restored
            plan.unrestorable += missing
    plan.events = _run_events(run, plan.created)
    return plan


def _run_events(run: ImportRun, created: dict) -> list[int]:
    """Events the run recorded: its source's while it ran, and those about the records it created
    (a new customer's events go with the customer)."""
    types = ContentType.objects.get_for_models(DataSource, *created)
    window = Q(recorded_at__gte=run.started_at)
    if run.finished_at:
        window &= Q(recorded_at__lte=run.finished_at)
    about = Q(source_type=types[DataSource], source_id=str(run.source_id)) & window
    for model, pks in created.items():
        if model is not Customer:
            about |= Q(source_type=types[model], source_id__in=[str(pk) for pk in pks])
    new_customers = set(created.get(Customer, []))
    return sorted(
        pk
        for pk, customer_id in TimelineEvent.objects.filter(about).values_list("pk", "customer_id")
        if customer_id not in new_customers
    )


def run_undo(*, run: ImportRun, user=None, job=None) -> dict[str, int]:
    """Undo ``run`` in one transaction (the worker's task); ``job`` shows the progress."""
    refusal = undo_refusal(run)
    if refusal:
        raise ValidationError(refusal)
    with transaction.atomic(), history.context(path="undo", run=run.pk, user=getattr(user, "pk", None)):
        run = ImportRun.objects.select_for_update().get(pk=run.pk)
        if run.undone_at:
            raise ValidationError(_("This run has already been undone."))
        plan = run_undo_plan(run)
        if job is not None:
            type(job).objects.filter(pk=job.pk).update(total=plan.total, done=0)
        for start in range(0, len(plan.events), _BATCH):
            TimelineEvent.objects.filter(pk__in=plan.events[start : start + _BATCH]).delete()
        _advance(job, len(plan.events))
        for model, values in plan.restored.items():
            for pk, before in values.items():
                model._base_manager.filter(pk=pk).update(**before)
            _advance(job, len(values))
        # Department records first, customers last (their remaining rows go with them).
        for model in sorted(plan.created, key=lambda m: m is Customer):
            pks = plan.created[model]
            for start in range(0, len(pks), _BATCH):
                part = pks[start : start + _BATCH]
                if model is Customer:
                    customers_delete(part)
                else:
                    model._base_manager.filter(pk__in=part).delete()
            _advance(job, len(pks))
        ImportRun.objects.filter(pk=run.pk).update(
            undone_at=timezone.now(), undone_by=user if getattr(user, "is_authenticated", False) else None
        )
    return {
        "removed": sum(len(v) for v in plan.created.values()) + len(plan.events),
        "restored": sum(len(v) for v in plan.restored.values()),
        "unrestorable": plan.unrestorable,
    }


def customers_delete(pks: list[int]) -> None:
    """Delete these customers (their records go with them) and the duplicate pairs that name them
    (the pairs keep their customers' ids without a foreign key)."""
    with customer_deletion_allowed():
        Customer.objects.filter(pk__in=pks).delete()
    DuplicateCandidate.objects.filter(Q(customer_a_id__in=pks) | Q(customer_b_id__in=pks)).delete()


UNDO_JOB_KIND = "sources.import_undo"


def run_undo_start(*, run: ImportRun, user=None) -> Job:
    """Queue the undo of ``run``: a Job row the run's page follows, the worker's task after commit."""
    from customer360.celery import task

    refusal = undo_refusal(run)
    if refusal:
        raise ValidationError(refusal)
    if run.undo_job_id and run.undo_job.status in (Job.Status.QUEUED, Job.Status.RUNNING):
        return run.undo_job
    job = Job.objects.create(
        kind=UNDO_JOB_KIND,
        label=f"Undo import run {run.pk}",
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    ImportRun.objects.filter(pk=run.pk).update(undo_job=job)
    transaction.on_commit(lambda: task("customer360.sources.tasks.undo_import").delay(run.pk, job.pk))
    return job


def _advance(job, by: int) -> None:
    if job is not None and by:
        job.advance(by)
