"""One way for pages (and services) to require permissions, and to find a customer in scope.

Who may see which customer is decided by ``Customer.objects.visible_to``; these helpers only apply
it, so that a customer out of scope answers exactly like one that does not exist (404), on reads and
on writes alike.
"""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from customer360 import roles
from customer360.text import whole_number


def require(user, *permissions: str) -> None:
    """Refuse (403, the page names what is missing) unless ``user`` has every one of ``permissions``."""
    missing = [perm for perm in permissions if not user.has_perm(perm)]
    if missing or not user.is_authenticated:
        raise PermissionDenied(_("Your role lacks the permission “%(perm)s”.") % {"perm": ", ".join(missing)})


def require_manager(user) -> None:
    """Refuse (403) unless ``user`` is a manager or an admin (dashboards, analytics)."""
    if not roles.is_manager_or_admin(user):
        raise PermissionDenied(_("Dashboards are for managers and administrators."))


def permission_required(*permissions: str):
    """Decorator for page views: 403 (the styled page) unless the user has every permission."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            require(request.user, *permissions)
            return view(request, *args, **kwargs)

        wrapped.required_permissions = permissions
        return wrapped

    return decorator


def visible_customer(user, pk, queryset=None):
    """The customer ``pk`` if ``user`` may see it; otherwise 404, exactly as for a missing one."""
    from customer360.models import Customer

    base = queryset if queryset is not None else Customer.objects.all()
    number = pk if isinstance(pk, int) else whole_number(str(pk))
    customer = base.visible_to(user).filter(pk=number).first() if number is not None else None
    if customer is None:
        raise Http404
    return customer
