"""Create a record and its event once per retry token (the API's Idempotency-Key)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import models, transaction

from customer360 import timeline


def token_key(entity: str, token: str) -> str:
    return timeline.idempotency_key(entity, "token", token) if token else ""


def create_once(
    *,
    model: type[models.Model],
    token_key: str,
    create: Callable[[], models.Model],
    record: Callable,
    payload_id: str = "",
):
    """Create a record and its event once per token: a retry returns the first record.

    The event points at the record (its source), or names it in ``payload[payload_id]`` when the
    event's source is a parent (a ticket message's event links the ticket). The unique idempotency
    key decides under concurrency: the loser's rows roll back to a savepoint.
    """

    def first_of(event_values) -> models.Model:
        source_id, payload = event_values
        return model.objects.get(pk=(payload or {}).get(payload_id) if payload_id else source_id)

    if token_key:
        existing = timeline.event_for_key(token_key)
        if existing:
            return first_of((existing.source_id, existing.payload))
    with transaction.atomic():
        obj = create()
        event, created = record(obj)
        if not created:
            transaction.set_rollback(True)
    return obj if created else first_of((event.source_id, event.payload))
