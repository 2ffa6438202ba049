"""The API's one permission class: the Django model permission that an action needs, the same the
pages ask for. Customer scope is not decided here but in the viewsets' querysets
(``visible_to``), so a record out of scope answers 404 like a missing one."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from customer360 import roles

# What a standard viewset action, or else the HTTP method, needs of the model.
ACTION_VERBS = {"create": "add", "update": "change", "partial_update": "change", "destroy": "delete"}
METHOD_VERBS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def required_permissions(view, request) -> tuple[str, ...]:
    """The permissions ``view`` needs for this request.

    A view names them per action in ``action_permissions`` ({action: "app.codename" or a tuple});
    otherwise the model's view/add/change/delete permission follows from the action or the method.
    A view that sets ``login_only`` (the caller's own notifications, say) or has no queryset needs
    only a login (what it shows is scoped by its own code).
    """
    if getattr(view, "login_only", False):
        return ()
    action = getattr(view, "action", None)
    named = getattr(view, "action_permissions", {})
    if action in named:
        value = named[action]
        return (value,) if isinstance(value, str) else tuple(value)
    model = getattr(view, "model", None)
    if model is None and hasattr(view, "get_queryset"):
        model = view.get_queryset().model
    if model is None:
        return ()
    verb = ACTION_VERBS.get(action) or METHOD_VERBS.get(request.method, "view")
    opts = model._meta
    return (f"{opts.app_label}.{verb}_{opts.model_name}",)


class ModelPermission(BasePermission):
    """Logged in, and holding the model permission the action needs (reading needs ``view_``)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return user.has_perms(required_permissions(view, request))


class ManagerOrAdmin(BasePermission):
    """Dashboards and analytics: managers and administrators."""

    message = "Dashboards are for managers and administrators."

    def has_permission(self, request, view) -> bool:
        return roles.is_manager_or_admin(request.user)
