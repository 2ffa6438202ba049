from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject

from customer360 import roles
from customer360.registry import header_widgets, nav_groups
from customer360.registry import navigation as nav_registry


def _visible_items(request) -> list[dict]:
    """The menu entries the user may use, in registry order."""
    user = request.user
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
        active = request.path.startswith(url)
        items.append(
            {"key": item.key, "label": item.label, "url": url, "active": active, "group": item.group}
            | {"order": item.order}
        )
    return items


def navigation(request):
    """The main menu, filtered by what the user may use: ``nav_items`` flat, ``nav_menus`` grouped
    per area (a group with one entry becomes a plain link, entries of unknown groups stay top level),
    ``header_widgets``. Built when a template first reads one of them: the htmx fragments (load more,
    the search typeahead) draw no menu, and so no longer pay for the permission read it needs."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "nav_menus": [], "header_widgets": []}
    built: dict = {}

    def part(name: str) -> SimpleLazyObject:
        def value():
            if not built:
                built.update(_navigation(request, user))
            return built[name]

        return SimpleLazyObject(value)

    return {name: part(name) for name in ("nav_items", "nav_menus", "header_widgets")}


def _navigation(request, user) -> dict:
    items = _visible_items(request)
    groups = {group.key: group for group in nav_groups.all()}
    menus, by_group = [], {}
    for item in items:
        group = groups.get(item["group"])
        if group is None:
            menus.append({"key": item["key"], "order": 1000 + item["order"], "link": item})
            continue
        if group.key not in by_group:
            by_group[group.key] = {"key": group.key, "label": group.label, "order": group.order, "items": []}
            menus.append(by_group[group.key])
        by_group[group.key]["items"].append(item)
    for menu in menus:
        entries = menu.get("items")
        if entries is not None:
            menu["active"] = any(entry["active"] for entry in entries)
            if len(entries) == 1:
                menu["link"] = entries[0]
    menus.sort(key=lambda menu: menu["order"])
    widgets = [w for w in header_widgets.all() if not w.permission or user.has_perm(w.permission)]
    return {"nav_items": items, "nav_menus": menus, "header_widgets": widgets}
