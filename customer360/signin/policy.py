"""Who must confirm a sign-in with a second factor."""

from __future__ import annotations

from django_otp.plugins.otp_totp.models import TOTPDevice

from customer360.signin.models import RoleSecurityPolicy


def has_authenticator(user) -> bool:
    """Whether the user has confirmed an authenticator app."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def second_factor_required(user) -> bool:
    """A user whose role requires it, or who has set up an authenticator app, confirms each sign-in."""
    if not user.is_authenticated:
        return False
    return RoleSecurityPolicy.objects.requiring_second_factor(user) or has_authenticator(user)
