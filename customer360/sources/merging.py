"""Merging two customers into one, and undoing it exactly.

A merge moves every row of every model that points at the merged customer (found generically
through ``Customer._meta``, so department records move without the core importing their apps),
keeps every identifier, records what it did (who, when, which rows, which field values) and
deletes the merged customer. Undo recreates it with the same id and moves the same rows back.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.apps import apps
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customer360 import timeline
from customer360.audit import history
from customer360.events_core import CUSTOMER_MERGE_UNDONE, CUSTOMER_MERGED
from customer360.models import Customer, customer_deletion_allowed
from customer360.sources.models import CustomerMerge, DuplicateCandidate

#: Fields the admin chooses one by one on the merge screen.
MERGE_FIELDS = (
    "kind",
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "country",
    "birth_date",
    "preferred_language",
    "owner",
    "lifecycle",
)
_NOT_MOVED = {CustomerMerge, DuplicateCandidate}


class _ExactEncoder(DjangoJSONEncoder):
    """Like Django's, but keeps microseconds (undo must restore timestamps exactly)."""

    def default(self, o):
        if isinstance(o, datetime):
            return o.isoformat()
        return super().default(o)


def _snapshot(customer: Customer) -> dict:
    values = {f.attname: getattr(customer, f.attname) for f in Customer._meta.concrete_fields}
    return json.loads(json.dumps(values, cls=_ExactEncoder))


def _restore(values: dict) -> dict:
    """Snapshot values back to Python (dates, datetimes) by each field's own parser."""
    restored = {}
    for f in Customer._meta.concrete_fields:
        if f.attname in values:
            value = values[f.attname]
            restored[f.attname] = f.to_python(value) if value is not None else None
    return restored


def customer_relations() -> list[tuple[type[models.Model], models.Field]]:
    """Every (model, foreign key) that points at Customer, from any installed app."""
    found = []
    for rel in Customer._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        model = rel.related_model
        if model in _NOT_MOVED or model is Customer or history.is_history_model(model):
            continue  # change history keeps the rows as they were, pointing where they pointed
        found.append((model, rel.field))
    return found


def _move(model, fk: models.Field, from_id: int, to_id: int) -> tuple[list, list]:
    """Point the rows at ``to_id``; rows that would break a unique constraint are removed
    (serialised, so undo can put them back). Returns (moved pks, removed serialised rows)."""
    manager = model._base_manager
    pks = list(manager.filter(**{fk.attname: from_id}).values_list("pk", flat=True))
    if not pks:
        return [], []
    try:
        with transaction.atomic():
            manager.filter(pk__in=pks).update(**{fk.attname: to_id})
        return pks, []
    except IntegrityError:
        pass
    moved, removed = [], []
    for pk in pks:
        try:
            with transaction.atomic():
                manager.filter(pk=pk).update(**{fk.attname: to_id})
            moved.append(pk)
        except IntegrityError:
            obj = manager.get(pk=pk)
            removed.append(json.loads(serializers.serialize("json", [obj]))[0])
            obj.delete()
    return moved, removed


def _take_chosen_fields(kept: Customer, merged: Customer, chosen: dict[str, str]) -> None:
    for name in MERGE_FIELDS:
        if chosen.get(name) == "merged":
            field = Customer._meta.get_field(name)
            setattr(kept, field.attname, getattr(merged, field.attname))
    kept.attributes = {**merged.attributes, **kept.attributes}


def _move_all(from_id: int, to_id: int) -> tuple[dict[str, list], list]:
    """Move every row of every app that points at ``from_id`` to ``to_id``; rows that would
    collide with one the kept customer has (a unique key) are removed and kept as serialized."""
    moved: dict[str, list] = {}
    removed: list = []
    for model, fk in customer_relations():
        pks, gone = _move(model, fk, from_id, to_id)
        if pks:
            moved[f"{model._meta.label_lower}.{fk.name}"] = pks
        removed.extend(gone)
    return moved, removed


def _after_merge(record: CustomerMerge, candidate: DuplicateCandidate | None, user, merged_id: int) -> None:
    """Close the duplicate candidate and put the merge on the kept customer's timeline."""
    if candidate is not None:
        DuplicateCandidate.objects.filter(pk=candidate.pk).update(
            status=DuplicateCandidate.Status.MERGED,
            decided_by=record.performed_by,
            decided_at=timezone.now(),
        )
    CUSTOMER_MERGED.record(
        customer=record.kept,
        key=timeline.idempotency_key("customer.merged", record.pk),
        actor=user,
        payload=CUSTOMER_MERGED.payload(
            other=record.merged_label,
            merge_id=record.pk,
            merged_customer_id=merged_id,
            moved=record.moved_count,
        ),
    )


def customer_merge(
    *,
    kept: Customer,
    merged: Customer,
    chosen: dict[str, str] | None = None,
    user=None,
    candidate: DuplicateCandidate | None = None,
) -> CustomerMerge:
    """Merge ``merged`` into ``kept`` in one transaction. ``chosen`` maps a field of
    :data:`MERGE_FIELDS` to "kept" or "merged" (whose value wins); attributes are combined."""
    if kept.pk == merged.pk:
        raise ValidationError(_("A customer cannot be merged with itself."))
    chosen = chosen or {}
    with transaction.atomic():
        list(Customer.objects.select_for_update().filter(pk__in=[kept.pk, merged.pk]).order_by("pk"))
        kept.refresh_from_db()
        merged.refresh_from_db()
        record = CustomerMerge(
            kept=kept,
            merged_customer_id=merged.pk,
            merged_label=f"{merged.display_name} ({merged.customer_number})"[:300],
            chosen=chosen,
            kept_before=_snapshot(kept),
            merged_snapshot=_snapshot(merged),
            candidate=candidate,
            performed_by=user if getattr(user, "is_authenticated", False) else None,
        )
        _take_chosen_fields(kept, merged, chosen)
        moved, removed = _move_all(merged.pk, kept.pk)
        record.moved = json.loads(json.dumps(moved, cls=DjangoJSONEncoder))
        record.removed = removed
        merged_id = merged.pk
        with customer_deletion_allowed():  # every record moved to the kept customer above
            Customer.objects.filter(pk=merged_id).delete()
        kept.save()
        record.save()
        _after_merge(record, candidate, user, merged_id)
    return record


def merge_undo(*, merge: CustomerMerge, user=None) -> Customer:
    """Recreate the merged customer (same id) and move back exactly the rows the merge moved."""
    with transaction.atomic():
        merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
        if merge.undone_at:
            raise ValidationError(_("This merge has already been undone."))
        restored = Customer(**_restore(merge.merged_snapshot))
        Customer.objects.bulk_create([restored])
        merged_id = merge.merged_customer_id
        for dotted, pks in merge.moved.items():
            app_label, model_name, field_name = dotted.split(".")
            model = apps.get_model(app_label, model_name)
            attname = model._meta.get_field(field_name).attname
            model._base_manager.filter(pk__in=pks).update(**{attname: merged_id})
        for obj in serializers.deserialize("json", json.dumps(merge.removed)):
            obj.save()
        kept = Customer.objects.select_for_update().get(pk=merge.kept_id)
        before = _restore(merge.kept_before)
        for name in (*MERGE_FIELDS, "attributes"):
            attname = Customer._meta.get_field(name).attname
            setattr(kept, attname, before.get(attname))
        kept.save()
        merge.undone_at = timezone.now()
        merge.undone_by = user if getattr(user, "is_authenticated", False) else None
        merge.save(update_fields=["undone_at", "undone_by"])
        if merge.candidate_id:
            DuplicateCandidate.objects.filter(pk=merge.candidate_id).update(
                status=DuplicateCandidate.Status.OPEN, decided_by=None, decided_at=None
            )
        CUSTOMER_MERGE_UNDONE.record(
            customer=kept,
            key=timeline.idempotency_key("customer.merge_undone", merge.pk),
            actor=user,
            payload=CUSTOMER_MERGE_UNDONE.payload(
                other=merge.merged_label, merge_id=merge.pk, merged_customer_id=merged_id
            ),
        )
    return restored
