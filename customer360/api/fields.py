"""Serializer fields every app's API uses for references to customers."""

from __future__ import annotations

from rest_framework import serializers

from customer360.models import Customer


class VisibleCustomerField(serializers.PrimaryKeyRelatedField):
    """A customer id the caller may see. One out of scope is refused with the very message of an id
    that does not exist, so the answer tells nothing about customers outside the caller's scope."""

    def get_queryset(self):
        request = self.context.get("request")
        return Customer.objects.visible_to(request.user if request else None)
