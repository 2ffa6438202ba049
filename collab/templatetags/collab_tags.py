"""Template tags of the feed: the bell's unread count (one query, on any page)."""

from django import template

from collab.models import Notification

register = template.Library()


@register.simple_tag(takes_context=True)
def collab_unread_count(context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
