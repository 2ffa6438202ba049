"""The second-factor policy per role (imported by customer360.models so Django registers it)."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["RoleSecurityPolicy", "RoleSecurityPolicyQuerySet"]


class RoleSecurityPolicyQuerySet(models.QuerySet):
    def requiring_second_factor(self, user) -> bool:
        """Whether any of the user's roles requires a second factor at sign-in."""
        return self.filter(group__user=user, require_second_factor=True).exists()


class RoleSecurityPolicy(models.Model):
    """What a role (a Django group) must do to sign in; admins edit it in the Django admin.

    A role without a row here needs only the password. Whoever has confirmed an authenticator
    app is asked for its code in any case, whatever the role.
    """

    group = models.OneToOneField(
        Group, on_delete=models.CASCADE, related_name="security_policy", verbose_name=_("role")
    )
    require_second_factor = models.BooleanField(
        _("require a second factor"),
        default=False,
        help_text=_("Members must confirm each sign-in with a code from an authenticator app (TOTP)."),
    )

    objects = RoleSecurityPolicyQuerySet.as_manager()

    class Meta:
        verbose_name = _("role security policy")
        verbose_name_plural = _("role security policies")

    def __str__(self) -> str:
        return self.group.name
