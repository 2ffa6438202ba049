"""The one decorator that puts a model under change history.

Every app marks its own models in its own ``models.py``::

    from customer360.audit.tracking import tracked

    @tracked
    class Invoice(models.Model): ...

django-pghistory then creates an ``InvoiceHistory`` model (with its migration in the app) and
triggers on PostgreSQL that snapshot the rows of every insert, update and delete, whatever writes
them: the ORM, ``bulk_create``, COPY or ``UPDATE ... FROM``. On SQLite the history tables exist but
no trigger fills them (README "Audit").

The triggers are statement-level with transition tables (``REFERENCING NEW TABLE``): one trigger
call and one ``INSERT ... SELECT`` per statement, however many rows it wrote. Row-level triggers
cost a PL/pgSQL call per row, and each call's ignore check (pgtrigger's ``_pgtrigger_should_ignore``)
enters an exception block, i.e. a subtransaction per row. The rows recorded are the same as before:
one per row written, the same columns, the same context; an update records only the rows whose
values changed (the new rows that equal no old row, see ``CHANGED_ROWS``).

This module imports nothing of the project, so any ``models.py`` may use it.
"""

from __future__ import annotations

import pghistory
import pgtrigger
from django.db import models
from pghistory import config
from pghistory.trigger import Event

# The labels of the history rows; the pages translate them.
INSERT, UPDATE, DELETE = "insert", "update", "delete"

# The request's or task's context, read once per statement (set by pghistory.context()).
CONTEXT = (
    "(SELECT COALESCE(NULLIF(CURRENT_SETTING('pghistory.context_metadata', TRUE), ''), NULL)::JSONB"
    " AS metadata, COALESCE(NULLIF(CURRENT_SETTING('pghistory.context_id', TRUE), ''), NULL)::UUID"
    " AS id) AS _pgh_context"
)

# The rows an UPDATE statement changed: its new rows that equal no old row (NULLs compare equal,
# as with IS DISTINCT FROM). pghistory's own condition joins old and new rows by primary key; the
# planner knows nothing of a transition table's size, plans that join as a nested loop and so
# compares every new row with every old one: 4 s for one 2,800-row UPDATE of the NBA rescoring.
# EXCEPT is planned as a hashed or sorted set operation, linear in the rows written.
CHANGED_ROWS = "SELECT * FROM new_values EXCEPT SELECT * FROM old_values"


class StatementEvent(Event):
    """pghistory's event trigger at statement level, with the context in the row's own JSON column.

    pghistory's statement-level SQL also upserts a shared ``pghistory_context`` row per statement
    (its ``_pgh_attach_context()``), which this project does not keep (``PGHISTORY_CONTEXT_FIELD``
    is a JSON column on each history row): that row would be written, and never cleaned up by
    retention or erasure. This trigger writes only the history rows.
    """

    def get_func(self, model):
        alias = "new_values" if self.row == "NEW" else "old_values"
        tracked = {f.name for f in self.event_model.pgh_tracked_model._meta.fields}
        values = {
            f.column: f'{alias}."{f.column}"'
            for f in self.event_model._meta.fields
            if f.concrete
            and f.name in tracked
            and not isinstance(f, models.AutoField | models.GeneratedField)
        }
        pk = self.event_model._meta.get_field("pgh_obj").related_model._meta.pk.column
        values |= {
            "pgh_created_at": config.created_at_function(),
            "pgh_label": f"'{self.label}'",
            "pgh_obj_id": f'{alias}."{pk}"',
            "pgh_context": "_pgh_context.metadata",
            "pgh_context_id": "_pgh_context.id",
        }
        columns = ", ".join(f'"{column}"' for column in sorted(values))
        selected = ", ".join(values[column] for column in sorted(values))
        table = self.event_model._meta.db_table
        rows = f"(SELECT {alias}.* FROM {{cond_{alias}}}) AS {alias}"  # noqa: S608
        if self.operation == pgtrigger.Update and self.row == "NEW":
            rows = f"({CHANGED_ROWS}) AS new_values"
        # Table and column names come from the models' metadata, never from input.
        return pgtrigger.Func(
            f'INSERT INTO "{table}" ({columns}) SELECT {selected} FROM {rows}, {CONTEXT}; RETURN NULL;'  # noqa: S608
        )


class _AtStatementLevel:
    def add_event_trigger(self, event_model):
        trigger = StatementEvent(
            event_model=event_model,
            label=self.label,
            name=self.trigger_name,
            row=self.row,
            operation=self.operation,
            condition=self.condition,
            level=pgtrigger.Statement,
        )
        pgtrigger.register(trigger)(event_model.pgh_tracked_model)


class InsertEvent(_AtStatementLevel, pghistory.InsertEvent):
    pass


class UpdateEvent(_AtStatementLevel, pghistory.UpdateEvent):
    pass


class DeleteEvent(_AtStatementLevel, pghistory.DeleteEvent):
    pass


def tracked(model):
    """Record every insert, update and delete of ``model`` with the row's values and the context."""
    return pghistory.track(
        InsertEvent(INSERT),
        UpdateEvent(UPDATE),
        DeleteEvent(DELETE),
        model_name=f"{model.__name__}History",
    )(model)
