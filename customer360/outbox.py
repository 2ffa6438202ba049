"""Announcements that survive a broker outage.

``customer_changed`` wakes the NBA worker through Redis (a pending set and a Celery task). When
Redis is unreachable the receivers fail; the request that changed the customer must not fail with
them, and the rescoring must not be lost. So a failed announcement is kept in the database
(``PendingChange``, one row per customer) and announced again by a beat task once the broker
answers. After one failure the announcements of the next ``BREAKER_SECONDS`` go straight to the
table, so a Redis outage does not cost every request a connection attempt.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

BREAKER_SECONDS = 5.0
DRAIN_BATCH = 5000
_broken_until = 0.0


def deliver(signal, sender, customer_ids: list[int]) -> None:
    """Send ``signal`` to its receivers; keep the ids in the database if a receiver failed."""
    global _broken_until
    if time.monotonic() < _broken_until:
        keep(customer_ids)
        return
    failures = [r for _receiver, r in signal.send_robust(sender=sender, customer_ids=customer_ids) if r]
    failures = [r for r in failures if isinstance(r, Exception)]
    if failures:
        _broken_until = time.monotonic() + BREAKER_SECONDS
        logger.warning(
            "announcement of %s changed customers kept in the database: %s",
            len(customer_ids),
            failures[0].__class__.__name__,
        )
        keep(customer_ids)


def keep(customer_ids: list[int]) -> None:
    """Remember the customers (the newest change time wins) for a later announcement."""
    from customer360.models import PendingChange

    now = timezone.now()
    PendingChange.objects.bulk_create(
        [PendingChange(customer_id=c, changed_at=now) for c in customer_ids],
        update_conflicts=True,
        unique_fields=["customer_id"],
        update_fields=["changed_at"],
    )


def drain(signal, sender, *, batch: int = DRAIN_BATCH) -> int:
    """Announce the kept customers again, oldest first; a row is removed only after its
    announcement went through (and only if no newer change was kept meanwhile). Returns how many."""
    global _broken_until
    from customer360.models import PendingChange

    done = 0
    while True:
        rows = list(
            PendingChange.objects.order_by("changed_at", "pk").values_list("pk", "customer_id", "changed_at")[
                :batch
            ]
        )
        if not rows:
            return done
        # Raises while the broker is still down: the rows stay, the next beat tick tries again.
        signal.send(sender=sender, customer_ids=sorted(c for _pk, c, _at in rows))
        _broken_until = 0.0
        newest = max(at for _pk, _c, at in rows)
        with transaction.atomic():
            PendingChange.objects.filter(pk__in=[pk for pk, _c, _at in rows], changed_at__lte=newest).delete()
        done += len(rows)
        if len(rows) < batch:
            return done
