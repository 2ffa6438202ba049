"""Change history: the context history rows carry, reading a record's history, and scrubbing it.

The rows are written by django-pghistory's triggers (PostgreSQL only, see ``tracking``). What this
module adds:

- ``context(...)``: the path and actor of writes outside a web request (an import run, a Celery task);
  the middleware sets it for requests.
- ``bind_context(cursor)``: COPY bypasses Django's execute wrappers, which is how pghistory and
  pgtrigger pass their session variables; one statement through them first binds both to the
  transaction, so rows loaded by COPY carry the context (or are ignored) like any other.
- ``changes_for(...)``: the rows of a customer or a record, ready for the History pages.
- ``scrub_customer(customer_id)``: erasure removes every history row about the person.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime

from django.apps import apps
from django.db import connection, models
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _

# Columns every snapshot has that say nothing a reader needs (timestamps, derived search keys).
NOISE = {"updated_at", "search_key"}
HISTORY_SUFFIX = "History"


def enabled() -> bool:
    """History triggers exist on PostgreSQL only."""
    return connection.vendor == "postgresql"


def context(**metadata):
    """Group the writes inside under one context with ``metadata`` (e.g. ``path="import", run=7``).
    Nested inside a request or task context it adds to it. A no-op off PostgreSQL."""
    if not enabled():
        return contextlib.nullcontext()
    import pghistory

    return pghistory.context(**metadata)


def bind_context(cursor) -> None:
    """Run one statement through Django's execute wrappers, so that the transaction carries the
    history context and any ``pgtrigger.ignore`` before a COPY (which bypasses the wrappers)."""
    if enabled() and connection.in_atomic_block:
        cursor.execute("SET LOCAL c360.bulk_write = 'on'")


def trigger_uris() -> list[str]:
    """The pgtrigger URIs of every history trigger (``app.Model:insert_insert`` ...)."""
    names = ("insert_insert", "update_update", "delete_delete")
    return [f"{m.pgh_tracked_model._meta.label}:{name}" for m in history_models() for name in names]


def paused():
    """Write without history inside (the demo seed's bulk load, the benchmark's "off" figure):
    the history triggers of this thread's statements return at once. A no-op off PostgreSQL."""
    if not enabled():
        return contextlib.nullcontext()
    import pgtrigger

    return pgtrigger.ignore(*trigger_uris())


def is_history_model(model) -> bool:
    """True for a ``<Model>History`` table (its rows are never moved, merged or edited)."""
    return hasattr(model, "pgh_tracked_model")


def history_models() -> list[type[models.Model]]:
    """Every history model of every app (``<Model>History``, made by ``tracking.tracked``)."""
    from pghistory.models import Event

    return [m for m in apps.get_models() if issubclass(m, Event) and hasattr(m, "pgh_tracked_model")]


def customer_columns(history_model) -> list[str]:
    """The columns of ``history_model`` that hold a customer's id (its own row's id for customers)."""
    from customer360.models import Customer

    columns = []
    for f in history_model._meta.concrete_fields:
        if f.is_relation and f.related_model is Customer:
            columns.append(f.attname)
    return columns


def _related_object_ids(tracked, customer_id: int):
    """Ids of ``tracked`` rows that belong to the customer without a customer column of their own:
    through a many-to-many to customers (a feed post naming them) or through a record that has one
    (a payment through its invoice). None when the model has neither."""
    from customer360.models import Customer

    condition = models.Q()
    for f in tracked._meta.get_fields():
        if f.many_to_many and f.concrete and f.related_model is Customer:
            condition |= models.Q(**{f.name: customer_id})
        elif f.many_to_one and f.concrete and f.related_model is not Customer and f.related_model is not None:
            for g in f.related_model._meta.concrete_fields:
                if g.many_to_one and g.related_model is Customer:
                    condition |= models.Q(**{f"{f.name}__{g.name}": customer_id})
    if not condition:
        return None
    return tracked._base_manager.filter(condition).values("pk")


def scrub_customer(customer_id: int) -> dict[str, int]:
    """Delete every history row that holds the customer's data: the customer row's own history, its
    identities', that of every tracked row pointing at the customer, and that of rows belonging to
    them through another record or a many-to-many (payments, feed posts naming them). Returns the
    rows removed per history model. Erasure calls it last, in the same transaction, so that no
    history table keeps the old name, e-mail or phone."""
    removed = {}
    for history_model in history_models():
        condition = models.Q()
        for column in customer_columns(history_model):
            condition |= models.Q(**{column: customer_id})
        related = _related_object_ids(history_model.pgh_tracked_model, customer_id)
        if related is not None:
            condition |= models.Q(pgh_obj_id__in=related)
        if not condition:
            continue
        count = history_model.objects.filter(condition).delete()[0]
        if count:
            removed[history_model._meta.label] = count
    return removed


def scrub_text(terms) -> dict[str, int]:
    """Delete every history row whose text names one of ``terms`` (the person's names, e-mail,
    phone, numbers): what a row kept about the person without pointing at them, e.g. the earlier
    version of a feed post whose reference was removed by the erasure. A scan of the history
    tables, which an erasure (rare, and a worker's job) can afford."""
    terms = [t for t in terms if t and len(t) >= 3]
    removed: dict[str, int] = {}
    if not terms:
        return removed
    for history_model in history_models():
        condition = models.Q()
        for f in history_model._meta.concrete_fields:
            if (
                isinstance(f, models.CharField | models.TextField)
                and not f.choices
                and not f.name.startswith("pgh_")
            ):
                for term in terms:
                    condition |= models.Q(**{f"{f.name}__icontains": term})
        if not condition:
            continue
        count = history_model.objects.filter(condition).delete()[0]
        if count:
            removed[history_model._meta.label] = count
    return removed


# --- Reading ------------------------------------------------------------------------------------
@dataclass
class Change:
    """One history row as the History pages show it."""

    at: datetime
    label: str  # insert / update / delete
    model: type[models.Model]
    object_id: str
    user_id: int | None
    path: str
    detail: str  # URL, import run, task name
    values: list[tuple[str, object, object]] = field(
        default_factory=list
    )  # (column, before, after) as stored
    row: dict = field(default_factory=dict)  # the record's values after the change, as stored
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (label, before, after) for reading

    @property
    def record_name(self) -> str:
        return f"{capfirst(self.model._meta.verbose_name)} #{self.object_id}"

    @property
    def fields(self) -> list[tuple[str, object, object]]:
        """(the field's label in the reader's language, before, after), values as stored."""
        return [(field_label(self.model, column), before, after) for column, before, after in self.values]


def field_label(model, column: str) -> str:
    """The field's verbose name (translated) for a stored column (``owner_id`` -> "Owner")."""
    for f in model._meta.concrete_fields:
        if f.attname == column:
            return capfirst(str(f.verbose_name))
    return column


def _detail(context: dict) -> str:
    if context.get("run"):
        return _("import run %(number)s") % {"number": context["run"]}
    return str(context.get("task") or context.get("url") or "")


def _in_field_order(model, values: list[tuple[str, object, object]]) -> list[tuple[str, object, object]]:
    order = {f.attname: index for index, f in enumerate(model._meta.concrete_fields)}
    return sorted(values, key=lambda value: (order.get(value[0], len(order)), value[0]))


def to_change(event) -> Change:
    """An aggregate ``pghistory.models.Events`` row as a :class:`Change`."""
    model = apps.get_model(event.pgh_obj_model)
    context = event.pgh_context or {}
    data = event.pgh_data or {}
    if event.pgh_label == "update":
        diff = event.pgh_diff or {}
        values = [(k, v[0], v[1]) for k, v in diff.items() if k not in NOISE]
    elif event.pgh_label == "insert":
        # The record's id is in its name; empty values ("", {}, []) say nothing on creation.
        pk = model._meta.pk.attname
        values = [
            (k, None, v)
            for k, v in data.items()
            if k not in NOISE and k != pk and v not in (None, "", {}, [])
        ]
    else:
        values = []
    user = context.get("user")
    return Change(
        at=event.pgh_created_at,
        label=event.pgh_label,
        model=model,
        object_id=str(event.pgh_obj_id),
        user_id=int(user) if str(user or "").isdigit() else None,
        path=str(context.get("path") or ("task" if context.get("task") else "")),
        detail=_detail(context),
        values=_in_field_order(model, values),
        row=data,
    )


def readable_models(user) -> list[type[models.Model]]:
    """History models whose tracked model ``user`` may view (a rep does not read invoice history
    without the billing permission)."""
    allowed = []
    for history_model in history_models():
        tracked = history_model.pgh_tracked_model
        if user.has_perm(f"{tracked._meta.app_label}.view_{tracked._meta.model_name}"):
            allowed.append(history_model)
    return allowed


def events_about(customer, user):
    """The history rows of ``customer`` and of every record pointing at it that ``user`` may read,
    newest first (a queryset of ``pghistory.models.Events``; PostgreSQL only)."""
    from pghistory.models import Events

    readable = [m for m in readable_models(user) if customer_columns(m)]
    if not readable:
        return Events.objects.none()
    return Events.objects.references(customer).across(*readable).order_by("-pgh_created_at", "-pgh_id")


def events_of(record, user):
    """The history rows of one record (a ticket, a deal, an invoice) and of the records that belong
    to it which ``user`` may read (an invoice's payments, a deal's activities), newest first."""
    from pghistory.models import Events

    if not any(m.pgh_tracked_model is type(record) for m in readable_models(user)):
        return Events.objects.none()
    return (
        Events.objects.references(record)
        .across(*readable_models(user))
        .order_by("-pgh_created_at", "-pgh_id")
    )


# --- Which records have a History page, and who may open it ---------------------------------------
def record_models() -> dict[str, type[models.Model]]:
    """The tracked models with a History page per record, by ``app_label.model_name``: those whose
    records belong to one customer (a ``customer`` field). Customers have their own page."""
    from customer360.models import Customer

    found = {}
    for history_model in history_models():
        tracked = history_model.pgh_tracked_model
        if tracked is not Customer and any(f.name == "customer" for f in tracked._meta.concrete_fields):
            found[tracked._meta.label_lower] = tracked
    return found


def view_permission(model) -> str:
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


def readable_record(user, model, pk: int):
    """The record ``pk`` of ``model`` if ``user`` may read its history, else None: the user may view
    the model, and the record's customer is visible to them (out of scope looks like missing)."""
    from customer360.models import Customer

    if not user.has_perm(view_permission(model)):
        return None
    visible = Customer.objects.visible_to(user).values("pk")
    return model._default_manager.filter(pk=pk, customer__in=visible).select_related("customer").first()


def record_url(user, record, visible: dict[int, bool] | None = None) -> str:
    """The URL of ``record``'s History page when ``user`` may open it (the route's rule:
    :func:`readable_record`), else "". One query per customer (whether it is visible to the user),
    remembered in ``visible`` for the other records of the same page."""
    from customer360.models import Customer

    model = type(record)
    label = model._meta.label_lower
    if record_models().get(label) is not model or not user.has_perm(view_permission(model)):
        return ""
    visible = {} if visible is None else visible
    if record.customer_id not in visible:
        scope = Customer.objects.visible_to(user)
        visible[record.customer_id] = scope.filter(pk=record.customer_id).exists()
    if not visible[record.customer_id]:
        return ""
    return reverse("audit:record_history", args=[label, record.pk])


# --- Celery tasks -----------------------------------------------------------------------------------
_task_contexts: dict[str, object] = {}


def _task_started(task_id=None, task=None, **kwargs) -> None:
    if not enabled() or task_id is None:
        return
    entered = context(path="task", task=getattr(task, "name", ""))
    entered.__enter__()
    _task_contexts[task_id] = entered


def _task_finished(task_id=None, **kwargs) -> None:
    entered = _task_contexts.pop(task_id, None)
    if entered is not None:
        entered.__exit__(None, None, None)


def connect_task_context() -> None:
    """Every Celery task's writes carry path "task" and the task's name (an import run inside adds
    its run). Connected once by the app config."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="c360-history-task-start")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="c360-history-task-end")
