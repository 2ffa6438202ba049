"""Routers whose detail routes take only ids: anything else is a 404 before a view runs.

DRF's routers accept any string as a pk by default (``[^/.]+``), so ``/customers/null,null/`` reached
``int()`` and the database. Ids are 1 to 18 digits, which always fits PostgreSQL's bigint.
"""

from rest_framework.routers import DefaultRouter, SimpleRouter

ID_REGEX = r"[0-9]{1,18}"


class IdLookupMixin:
    def get_lookup_regex(self, viewset, lookup_prefix=""):
        lookup_field = getattr(viewset, "lookup_field", "pk")
        lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
        value = getattr(viewset, "lookup_value_regex", ID_REGEX)
        return f"(?P<{lookup_prefix}{lookup_url_kwarg}>{value})"


class IdRouter(IdLookupMixin, DefaultRouter):
    """DefaultRouter (with its API root) whose lookups are ids."""


class IdSimpleRouter(IdLookupMixin, SimpleRouter):
    """SimpleRouter whose lookups are ids."""
