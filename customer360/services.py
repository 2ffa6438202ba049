"""Core workflows: notes on the timeline, personal API tokens."""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets

from django.utils import timezone
from django.utils.translation import gettext as _

from customer360 import roles, timeline
from customer360.models import (
    API_AREAS,
    API_TOKEN_PREFIX,
    ApiToken,
    Channel,
    Customer,
    Department,
    Direction,
    TimelineEvent,
    api_scope,
)

logger = logging.getLogger(__name__)


def note_add(*, customer: Customer, user, text: str, token: str) -> TimelineEvent:
    """A free note by any employee, filed under the author's department."""
    departments = roles.departments_of(user)
    event, _created = timeline.record(
        customer=customer,
        department=departments[0] if departments else Department.INTERNAL,
        kind="note.added",
        title=_("Note by %(name)s") % {"name": user.get_full_name() or user.get_username()},
        summary=text,
        channel=Channel.INTERNAL,
        direction=Direction.INTERNAL,
        actor=user,
        idempotency_key=timeline.idempotency_key("core.note", customer.pk, token),
    )
    return event


def api_token_create(
    *, user, name: str, scopes: list[str], expires_at: datetime.datetime
) -> tuple[ApiToken, str]:
    """A new personal API token; only the hash of the secret is kept, so show the returned secret once."""
    unknown = set(scopes) - {api_scope(area, write) for area in API_AREAS for write in (False, True)}
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[: len(API_TOKEN_PREFIX) + 6],
        token_hash=api_token_hash(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    logger.info("api token %s created for user %s", token.pk, user.pk)
    return token, secret


def api_token_revoke(*, token: ApiToken, by) -> None:
    """The token stops working at once (kept, so its history stays visible)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        logger.info("api token %s revoked by user %s", token.pk, by.pk)


def api_token_hash(secret: str) -> str:
    # The secret is 256 bits of randomness: a plain SHA-256 cannot be brute-forced, no slow hash needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_for(secret: str) -> ApiToken | None:
    """The usable token with this secret, with its user; None for anything else."""
    if not secret.startswith(API_TOKEN_PREFIX):
        return None
    return ApiToken.objects.usable().select_related("user").filter(token_hash=api_token_hash(secret)).first()
