"""Background work of marketing: launching a campaign to a large audience."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from marketing.models import Campaign
from marketing.services import campaign_launch


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, retry_jitter=True, max_retries=3)
def launch_campaign(campaign_id: int, actor_id: int | None = None) -> int:
    """Launch the campaign; a gone or already running campaign is left alone (the launch is idempotent)."""
    from django.contrib.auth import get_user_model

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or not campaign.is_editable:
        return 0
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return campaign_launch(campaign=campaign, actor=actor)
