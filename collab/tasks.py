"""Celery tasks of the feed (beat): overdue reminders and e-mail digests. Thin: they call services.

Beat entries (customer360/celery.py):
    "collab-remind-overdue": {"task": "collab.tasks.remind_overdue_requests", "schedule": crontab(minute=0, hour="8-17")}
    "collab-send-digests": {"task": "collab.tasks.send_digests", "schedule": crontab(minute=30, hour=7)}
"""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task

from collab import services
from collab.models import DigestSubscription

logger = logging.getLogger(__name__)


@shared_task(name="collab.tasks.remind_overdue_requests")
def remind_overdue_requests() -> int:
    """Remind once per request and day (the claim on ``last_reminded_on`` makes reruns harmless)."""
    count = services.requests_remind_overdue()
    logger.info("overdue requests reminded: %d", count)
    return count


@shared_task(name="collab.tasks.send_digests")
def send_digests() -> int:
    """Fan out one digest task per subscribed user."""
    user_ids = list(DigestSubscription.objects.filter(enabled=True).values_list("user_id", flat=True))
    for user_id in user_ids:
        send_digest.delay(user_id)
    return len(user_ids)


@shared_task(
    name="collab.tasks.send_digest",
    autoretry_for=(smtplib.SMTPException, ConnectionError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
)
def send_digest(user_id: int) -> int:
    """One user's digest; returns quietly when the user or the subscription is gone."""
    return services.digest_send(user_id=user_id)
