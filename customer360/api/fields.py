"""Serializer fields of the API: references to customers in the caller's scope, and values the
database and the answer can hold."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from customer360.models import Customer

EARLIEST_YEAR, LATEST_YEAR = 1900, 9000


class BoundedDateTimeField(serializers.DateTimeField):
    """A moment between 1900 and 9000.

    Europe/Vienna had a local mean time offset (+01:05:21) before 1893, which is no valid RFC 3339
    offset in the answer; near year 9999 the conversion to local time overflows (a 500)."""

    default_error_messages = {
        "out_of_range": _("Enter a date and time between the years %(earliest)s and %(latest)s.")
    }

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
            self.fail("out_of_range", earliest=EARLIEST_YEAR, latest=LATEST_YEAR)
        return moment


def use_bounded_datetimes() -> None:
    """ModelSerializers map model DateTimeFields to the bounded field (DRF's documented mapping)."""
    serializers.ModelSerializer.serializer_field_mapping[models.DateTimeField] = BoundedDateTimeField


class VisibleCustomerField(serializers.PrimaryKeyRelatedField):
    """A customer id the caller may see. One out of scope is refused with the very message of an id
    that does not exist, so the answer tells nothing about customers outside the caller's scope."""

    def get_queryset(self):
        request = self.context.get("request")
        return Customer.objects.visible_to(request.user if request else None)
