"""What the feed contributes to the core: menu entries, the timeline audience of spaces, and a
small "internal discussions" panel on the customer 360 page."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from collab.models import Space
from customer360.models import Department, TimelineEvent
from customer360.registry import HeaderWidget, NavItem, Panel, audiences, header_widgets, navigation, panels


def space_audiences(user) -> list[str]:
    """``collab.space:<id>`` for every space the user may read (one query)."""
    return [f"collab.space:{pk}" for pk in Space.objects.readable_by(user).values_list("pk", flat=True)]


audiences.register("collab.space", space_audiences)


def internal_panel(request, customer) -> dict:
    """The latest internal discussions about the customer that this user may see (one query)."""
    events = list(
        TimelineEvent.objects.visible_to(request.user, customer=customer)
        .filter(department=Department.INTERNAL)
        .select_related("actor")
        .order_by("-occurred_at", "-id")[:4]
    )
    return {"events": events[:3], "more": len(events) > 3}


panels.register(
    Panel(
        key="internal",
        title=_("Internal discussions"),
        template="collab/_panel.html",
        context=internal_panel,
        order=60,
        department="internal",
    )
)

header_widgets.register(HeaderWidget(key="collab.bell", template="collab/_bell_lazy.html", order=10))
navigation.register(NavItem(key="feed", label=_("Feed"), url_name="collab:feed", order=70, group="feed"))
navigation.register(
    NavItem(key="requests", label=_("Requests"), url_name="collab:requests", order=71, group="feed")
)
navigation.register(
    NavItem(
        key="moderation",
        label=_("Moderation"),
        url_name="collab:moderation",
        order=72,
        group="feed",
        permission="collab.moderate_post",
    )
)
