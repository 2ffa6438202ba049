"""The registry through which every app says what it holds about a person and how to erase it.

An app registers one :class:`SubjectData` in its ``privacy.py`` (imported by its AppConfig.ready)::

    subject_data.register(SubjectData(
        key="crm", label=_("Sales and service"), app_labels=("crm",),
        export=lambda customer: {"deals": [...], "tickets": [...]},
        erase=lambda customer, request: {"tickets": 3},
    ))

``export(customer)`` returns ``{kind: [row dict, ...]}`` (JSON-safe values); ``erase(customer,
request)`` removes or anonymises the person's data in the app's tables and returns counts per
kind. ``app_labels`` names the Django apps whose customer-keyed models the contributor covers:
:func:`apps_without_contributor` lists the apps that hold such models and are covered by none.

The audit app joins with one line at merge time (the access log about the person, the change
history scrubbed on erasure)::

    subject_data.register(SubjectData(key="audit", label=_("Audit"), app_labels=("audit",),
        export=lambda c: {"access_log": access.rows_about(c.pk)},
        erase=lambda c, r: {"history": history.scrub_customer(c.pk)}, order=900))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps


@dataclass(frozen=True)
class SubjectData:
    """One app's contribution to subject access and erasure."""

    key: str
    label: str
    export: Callable[..., dict[str, list[dict]]]
    erase: Callable[..., dict[str, int]]
    app_labels: tuple[str, ...] = ()
    order: int = 100


class _SubjectDataRegistry:
    def __init__(self) -> None:
        self.items: dict[str, SubjectData] = {}

    def register(self, item: SubjectData) -> None:
        self.items[item.key] = item

    def all(self) -> list[SubjectData]:
        return sorted(self.items.values(), key=lambda item: (item.order, item.key))

    def covered_app_labels(self) -> set[str]:
        return {label for item in self.items.values() for label in item.app_labels}


subject_data = _SubjectDataRegistry()


def customer_keyed_models() -> list:
    """Every installed model with a foreign key, one-to-one or many-to-many to Customer."""
    customer = apps.get_model("customer360", "Customer")
    found = []
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields():
            if field.concrete and field.is_relation and field.related_model is customer:
                found.append(model)
                break
    return found


def apps_without_contributor() -> list[str]:
    """App labels that hold customer-keyed models but registered no :class:`SubjectData`."""
    covered = subject_data.covered_app_labels()
    labels = {model._meta.app_label for model in customer_keyed_models()}
    return sorted(labels - covered)


# --- Helpers for contributors ---------------------------------------------------------------------
def rows(queryset) -> list[dict]:
    """Every stored column of the rows, as the export's JSON and CSV show them."""
    return list(queryset.values())


def _scrubbed(value, needles):
    """A text, or the texts inside a JSON value (e.g. a notification's ``params``), scrubbed."""
    if isinstance(value, dict):
        return {key: _scrubbed(item, needles) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, needles) for item in value]
    return needles.scrub(value) if isinstance(value, str) else value


def scrub_fields(queryset, fields: tuple[str, ...], needles) -> int:
    """Replace the person's names, e-mail, phone and ids in free-text ``fields`` (texts, or JSON
    holding texts) by the erased marker, row by row (only the rows that name them are written).
    Returns the rows changed."""
    changed = []
    for obj in queryset.only("pk", *fields):
        before = [getattr(obj, name) for name in fields]
        for name in fields:
            setattr(obj, name, _scrubbed(getattr(obj, name), needles))
        if [getattr(obj, name) for name in fields] != before:
            changed.append(obj)
    if changed:
        type(changed[0]).objects.bulk_update(changed, list(fields), batch_size=1000)
    return len(changed)
