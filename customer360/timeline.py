"""The one write path for the shared timeline.

Every department records what happened with a customer through :func:`record` (or
:func:`record_many` for imports and demo data). Nothing else creates ``TimelineEvent`` rows.

Guarantees:

* idempotent by ``idempotency_key`` (source + external id): a retried import, webhook or task
  returns the existing event; two concurrent callers produce one row because the unique key in
  ``TimelineEventKey``, written in the same transaction as the event, decides, not a
  read-then-write (the timeline itself is partitioned by time: customer360/partitions.py);
* after the surrounding transaction commits, ``customer_changed`` is sent for the customer, which
  is what wakes the next-best-action worker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, models, transaction
from django.dispatch import Signal
from django.utils import timezone

from customer360 import outbox
from customer360.bulk import copy_in, draw_ids
from customer360.models import Channel, Customer, Direction, TimelineEvent, TimelineEventKey

logger = logging.getLogger(__name__)

#: Sent after commit with ``customer_ids`` (a list) whenever something about customers changed.
customer_changed = Signal()

_BULK_BATCH = 5000


@dataclass
class EventData:
    """What :func:`record_many` needs for one event (same fields as :func:`record`)."""

    customer_id: int
    department: str
    kind: str
    title: str
    idempotency_key: str
    occurred_at: datetime | None = None
    channel: str = Channel.OTHER
    direction: str = Direction.INTERNAL
    summary: str = ""
    actor_id: int | None = None
    actor_label: str = ""
    source_type_id: int | None = None
    source_id: str = ""
    source_url: str = ""
    payload: dict = field(default_factory=dict)
    audience: str = ""


def idempotency_key(*parts: Any) -> str:
    """Join the parts of a key, e.g. ``idempotency_key("billing.invoice", 42, "overdue", 2)``."""
    return ":".join(map(str, parts))[:200]


def recorded_keys(keys: list[str], *, probe: int = 64) -> set[str]:
    """Which of ``keys`` are recorded already: one indexed look-up for a whole batch, so a rerun of
    an import skips its known rows before building anything (the unique key still decides races).

    ``probe`` keys spread over the batch are looked up first; when none is recorded (new data, the
    usual case) the batch is taken as new and the bulk write's unique key sorts out any exception.
    """
    if not keys:
        return set()
    if probe and len(keys) > probe and not _recorded(keys[:: len(keys) // probe]):
        return set()
    return _recorded(keys)


def _recorded(keys: list[str]) -> set[str]:
    if connection.vendor != "postgresql":
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            found.update(
                TimelineEventKey.objects.filter(idempotency_key__in=keys[start : start + 500]).values_list(
                    "idempotency_key", flat=True
                )
            )
        return found
    with connection.cursor() as cursor:
        # One array parameter instead of 10,000 placeholders; the unique index answers each key.
        cursor.execute(
            f"SELECT idempotency_key FROM {TimelineEventKey._meta.db_table} WHERE idempotency_key = ANY(%s)",  # noqa: S608
            [keys],
        )
        return {key for (key,) in cursor.fetchall()}


def event_for_key(key: str) -> TimelineEvent | None:
    """The event recorded under ``key``, or None (one query: the key, then the event by its id)."""
    ids = TimelineEventKey.objects.filter(idempotency_key=key).values("event_id")
    # No ORDER BY: with one, the planner may walk a partition's index in that order looking for the id.
    found = list(TimelineEvent.objects.filter(pk__in=ids).order_by()[:1])
    return found[0] if found else None


def announce_customer_changed(customer_ids: Iterable[int]) -> None:
    """Send ``customer_changed`` once the current transaction has committed. A receiver that fails
    (the broker is down) does not fail the request: the customers are kept in the database and
    announced again once the broker is back (customer360/outbox.py)."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return
    transaction.on_commit(lambda: outbox.deliver(customer_changed, TimelineEvent, ids))


def _source_fields(source: models.Model | None) -> dict:
    if source is None:
        return {}
    url = ""
    if hasattr(source, "get_absolute_url"):
        try:
            url = source.get_absolute_url()
        except Exception:  # a record without a page of its own still gets its event
            logger.debug("no url for %s", source.__class__.__name__)
    return {
        "source_type": ContentType.objects.get_for_model(source),
        "source_id": str(source.pk),
        "source_url": url[:300],
    }


def record(
    *,
    customer: Customer | int,
    department: str,
    kind: str,
    title: str,
    idempotency_key: str,
    occurred_at: datetime | None = None,
    channel: str = Channel.OTHER,
    direction: str = Direction.INTERNAL,
    summary: str = "",
    actor=None,
    actor_label: str = "",
    source: models.Model | None = None,
    payload: dict | None = None,
    audience: str = "",
) -> tuple[TimelineEvent, bool]:
    """Record one event on the customer's timeline; return ``(event, created)``.

    A second call with the same ``idempotency_key`` returns the first event unchanged.
    """
    customer_id = customer.pk if isinstance(customer, Customer) else int(customer)
    if not idempotency_key:
        raise ValueError("an idempotency key is required")
    values = {
        "customer_id": customer_id,
        "occurred_at": occurred_at or timezone.now(),
        "department": department,
        "kind": kind,
        "channel": channel,
        "direction": direction,
        "title": title[:300],
        "summary": summary,
        "actor": actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        "actor_label": actor_label[:120],
        "payload": payload or {},
        "audience": audience,
        "idempotency_key": idempotency_key,
        **_source_fields(source),
    }
    try:
        # The savepoint keeps an outer transaction usable after a duplicate key. The key is written
        # after the event: a concurrent writer of the same key waits here for the first one's
        # transaction, then fails on the key and rolls its event back.
        with transaction.atomic():
            event = TimelineEvent.objects.create(**values)
            TimelineEventKey.objects.create(event_id=event.pk, idempotency_key=idempotency_key)
    except IntegrityError:
        existing = event_for_key(idempotency_key)
        if existing is None:  # the conflict was something else (e.g. a missing customer)
            raise
        return existing, False
    announce_customer_changed([customer_id])
    return event, True


_COPY_COLUMNS = [
    "customer_id",
    "occurred_at",
    "recorded_at",
    "department",
    "kind",
    "channel",
    "direction",
    "title",
    "summary",
    "actor_id",
    "actor_label",
    "source_type_id",
    "source_id",
    "source_url",
    "payload",
    "audience",
    "idempotency_key",
]


def _row(data: EventData, now: datetime, wrap=lambda payload: payload) -> tuple:
    """One event as COPY / INSERT values; ``wrap`` adapts the payload (JSON text for COPY)."""
    return (
        data.customer_id,
        data.occurred_at or now,
        now,
        data.department,
        data.kind,
        data.channel,
        data.direction,
        data.title[:300],
        data.summary,
        data.actor_id,
        data.actor_label[:120],
        data.source_type_id,
        data.source_id,
        data.source_url[:300],
        wrap(data.payload),
        data.audience,
        data.idempotency_key,
    )


def _write_batch_postgresql(rows: list[tuple], new_keys: set[str] | None = None) -> int:
    """New events go straight in by COPY, their keys first (ids are drawn from the timeline's
    sequence beforehand, so each key names its event). When a key exists already (a rerun, a
    retried request, a concurrent writer), the key table's unique index refuses that COPY, its
    savepoint is rolled back, and the batch takes the careful path: COPY into a temporary table,
    then one statement that inserts the keys that are new (ON CONFLICT DO NOTHING) and the events
    of exactly those keys. Either way the unique key decides about duplicates as for one event."""
    from psycopg.errors import UniqueViolation

    table = TimelineEvent._meta.db_table
    keys_table = TimelineEventKey._meta.db_table
    columns = ", ".join(["id", *_COPY_COLUMNS])
    with connection.cursor() as cursor:
        ids = draw_ids(cursor, table, "id", len(rows))
    rows = [(event_id, *row) for event_id, row in zip(ids, rows, strict=True)]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            copy_in(cursor, keys_table, ["event_id", "idempotency_key"], [(row[0], row[-1]) for row in rows])
            copy_in(cursor, table, ["id", *_COPY_COLUMNS], rows)
    except UniqueViolation:
        pass
    else:
        if new_keys is not None:
            new_keys.update(row[-1] for row in rows)
        return len(rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS c360_event_load AS SELECT {columns} FROM {table} WITH NO DATA"  # noqa: S608
        )
        cursor.execute("TRUNCATE c360_event_load")
        copy_in(cursor, "c360_event_load", ["id", *_COPY_COLUMNS], rows, types_of=table)
        cursor.execute(
            f"WITH fresh AS (INSERT INTO {keys_table} (event_id, idempotency_key) "  # noqa: S608
            "SELECT id, idempotency_key FROM c360_event_load ORDER BY id "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING event_id) "
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM c360_event_load "
            "WHERE id IN (SELECT event_id FROM fresh) RETURNING idempotency_key"
        )
        inserted = [key for (key,) in cursor.fetchall()]
    if new_keys is not None:
        new_keys.update(inserted)
    return len(inserted)


def _write_batch_generic(rows: list[tuple], new_keys: set[str] | None = None) -> int:
    """SQLite (embedded mode, one writer at a time): the batch's new keys, their events, then the
    keys with the events' ids (a concurrent writer would fail on the unique key, not duplicate)."""
    keys = [row[-1] for row in rows]
    known = set(
        TimelineEventKey.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True)
    )
    fresh: dict[str, TimelineEvent] = {}
    for row in rows:
        if row[-1] not in known and row[-1] not in fresh:
            fresh[row[-1]] = TimelineEvent(**dict(zip(_COPY_COLUMNS, row, strict=True)))
    events = TimelineEvent.objects.bulk_create(list(fresh.values()))
    TimelineEventKey.objects.bulk_create(
        [TimelineEventKey(event_id=event.pk, idempotency_key=event.idempotency_key) for event in events]
    )
    if new_keys is not None:
        new_keys.update(fresh)
    return len(events)


def record_many(
    events: Iterable[EventData],
    *,
    announce: bool = True,
    new_keys: set[str] | None = None,
) -> int:
    """Bulk form of :func:`record` for imports and demo data; return how many rows were new.

    Duplicates (by idempotency key) are skipped by the database, so a rerun adds nothing, and the
    exact number of new rows is returned (on PostgreSQL rows go in through COPY).
    ``new_keys``, when given, receives the idempotency keys that were written now (not duplicates).
    """
    created = 0
    batch: list[tuple] = []
    touched: set[int] = set()
    now = timezone.now()
    postgres = connection.vendor == "postgresql"

    def flush() -> int:
        if postgres:
            written = _write_batch_postgresql(batch, new_keys)
        else:
            written = _write_batch_generic(batch, new_keys)
        batch.clear()
        return written

    # COPY takes the payload as JSON text (the column parses it): json.dumps directly, without
    # psycopg's Jsonb wrapper and its dumper look-up per row, as psycopg's dumper would write it.
    wrap = json.dumps if postgres else (lambda payload: payload)
    with transaction.atomic():
        for data in events:
            batch.append(_row(data, now, wrap))
            touched.add(data.customer_id)
            if len(batch) >= _BULK_BATCH:
                created += flush()
        if batch:
            created += flush()
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS c360_event_load")
    if announce:
        announce_customer_changed(touched)
    return created
