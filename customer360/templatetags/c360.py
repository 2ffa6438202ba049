from django import template
from django.utils.translation import gettext

from customer360 import formatting

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``{{ mapping|get_item:key }}`` for dictionaries with computed keys; "" when absent."""
    return mapping.get(key, "") if hasattr(mapping, "get") else ""


# One formatting path (customer360.formatting): templates format dates, times, numbers and money
# through these filters, so a page shows one date format in the reader's language.
@register.filter(name="day")
def day_filter(value):
    """``{{ record.due_date|day }}``: 13 Jan 2027 / 13.01.2027 ("" for no date)."""
    return formatting.day(value) if value not in (None, "") else ""


@register.filter(name="moment")
def moment_filter(value):
    """``{{ post.created_at|moment }}``: 13 Jan 2027, 14:05 / 13.01.2027, 14:05."""
    return formatting.moment(value) if value not in (None, "") else ""


@register.filter(name="number")
def number_filter(value, decimals=None):
    """``{{ value|number }}`` or ``{{ value|number:2 }}``: 1,234.50 / 1.234,50."""
    return formatting.number(value, None if decimals in (None, "") else int(decimals))


@register.filter(name="money")
def money_filter(value, currency="EUR"):
    """``{{ record.amount|money }}`` or ``|money:record.currency``: EUR 1,234.50 / EUR 1.234,50."""
    return formatting.money(value, currency or "EUR") if value not in (None, "") else ""


@register.filter
def catalogue(value):
    """Names of seeded catalogue rows (deal stages, department spaces, actions, dunning levels) are
    translation keys: ``{{ stage.name|catalogue }}`` shows them in the reader's language when the
    catalogue has them; names an admin entered are shown as entered."""
    return gettext(str(value)) if value not in (None, "") else ""


@register.simple_tag(takes_context=True)
def history_url(context, record) -> str:
    """``{% history_url invoice as history %}``: the URL of the record's History page (its changes and
    those of the records that belong to it), "" for a reader who may not open it (the route's rule)."""
    from customer360.audit import history

    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    # One visibility query per customer and request, however many records the page links.
    return history.record_url(user, record, request.__dict__.setdefault("_c360_history_visible", {}))
