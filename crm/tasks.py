"""Periodic service work. Beat entry (added by the lead in customer360/celery.py):

"crm-check-sla-breaches": {"task": "crm.tasks.check_sla_breaches", "schedule": 300.0},
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from crm import services


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
)
def check_sla_breaches() -> int:
    """Flag SLA breaches of tickets; each breach is claimed by a conditional UPDATE, so reruns
    and overlapping runs record ``ticket.sla_breached`` exactly once."""
    return services.ticket_flag_sla_breaches()
