from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``{{ mapping|get_item:key }}`` for dictionaries with computed keys; "" when absent."""
    return mapping.get(key, "") if hasattr(mapping, "get") else ""
