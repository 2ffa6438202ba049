"""The one decorator that puts a model under change history.

Every app marks its own models in its own ``models.py``::

    from customer360.audit.tracking import tracked

    @tracked
    class Invoice(models.Model): ...

django-pghistory then creates an ``InvoiceHistory`` model (with its migration in the app) and row
triggers on PostgreSQL that snapshot the row on every insert, update and delete, whatever writes it:
the ORM, ``bulk_create``, COPY or ``UPDATE ... FROM``. On SQLite the history tables exist but no
trigger fills them (README "Audit").

This module imports nothing of the project, so any ``models.py`` may use it.
"""

from __future__ import annotations

import pghistory

# The labels of the history rows; the pages translate them.
INSERT, UPDATE, DELETE = "insert", "update", "delete"


def tracked(model):
    """Record every insert, update and delete of ``model`` with the row's values and the context."""
    return pghistory.track(
        pghistory.InsertEvent(INSERT),
        pghistory.UpdateEvent(UPDATE),
        pghistory.DeleteEvent(DELETE),
        model_name=f"{model.__name__}History",
    )(model)
