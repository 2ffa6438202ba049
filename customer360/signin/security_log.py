"""Sign-in events on the "customer360.security" logger: username and address, never a password."""

from __future__ import annotations

import logging

from axes.helpers import get_client_ip_address
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

logger = logging.getLogger("customer360.security")


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind C360_TRUSTED_PROXY_COUNT proxies the address
    the outermost trusted proxy saw (what a client puts in X-Forwarded-For itself stays left of it)."""
    proxies = settings.C360_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def client_address(request) -> str:
    """The client's address as django-axes sees it (X-Forwarded-For behind a trusted proxy)."""
    if request is None:
        return "-"
    return getattr(request, "axes_ip_address", None) or get_client_ip_address(request) or "-"


@receiver(user_login_failed, dispatch_uid="c360_sign_in_failed")
def log_sign_in_failure(sender, credentials, request=None, **kwargs) -> None:
    # Only the username is taken from the credentials; Django has masked the password already,
    # and it must not reach a log even masked.
    logger.warning(
        "sign-in failed: username=%r ip=%s", credentials.get("username", ""), client_address(request)
    )


@receiver(user_locked_out, dispatch_uid="c360_sign_in_locked_out")
def log_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    logger.warning("sign-in locked out: username=%r ip=%s", username or "", ip_address or "-")


def second_factor_failed(request, user) -> None:
    logger.warning("second factor failed: user_id=%s ip=%s", user.pk, client_address(request))


def session_ended(request, user_id, reason: str) -> None:
    logger.info("session ended (%s): user_id=%s ip=%s", reason, user_id, client_address(request))
