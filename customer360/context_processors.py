from django.urls import NoReverseMatch, reverse

from customer360 import roles
from customer360.registry import header_widgets
from customer360.registry import navigation as nav_registry


def navigation(request):
    """The main menu and the header widgets, filtered by what the user may use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "header_widgets": []}
    items = []
    for item in nav_registry.all():
        if item.permission and not user.has_perm(item.permission):
            continue
        if item.roles and not roles.has_role(user, *item.roles):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        items.append(
            {"key": item.key, "label": item.label, "url": url, "active": request.path.startswith(url)}
        )
    widgets = [w for w in header_widgets.all() if not w.permission or user.has_perm(w.permission)]
    return {"nav_items": items, "header_widgets": widgets}
