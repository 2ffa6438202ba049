"""The timeline's idempotency keys, one row per event (re-exported by customer360.models).

The key used to be a unique index on the timeline itself. A table partitioned by time cannot have a
unique index without the partition column, and scoping the key by time would let a retry recorded a
second later become a second event. So the keys live here, unique across all time, and an event is
written together with its key in one transaction: the key's unique index decides about duplicates,
under concurrency too (the second writer waits for the first and then finds its key).

On PostgreSQL and SQLite a trigger on the timeline deletes the key of an event that is deleted
(erasure, retention, an undone import), so the same key can be recorded again afterwards.
"""

from __future__ import annotations

from django.db import models

__all__ = ["TimelineEventKey"]


class TimelineEventKey(models.Model):
    # The event's id (the timeline's primary key is (id, occurred_at) when it is partitioned, so no
    # foreign key points at it; the delete trigger keeps the two tables in step).
    event_id = models.BigIntegerField(primary_key=True)
    # Unique by the constraint below (a unique field would add a second, pattern-ops index).
    idempotency_key = models.CharField(max_length=200)

    class Meta:
        verbose_name = "timeline event key"
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="c360_event_key_unique")]

    def __str__(self) -> str:
        return self.idempotency_key
