"""What every crm model shares: the refusal its rules raise and the customer scope of its rows."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from customer360.models import Customer


def refuse(field: str, message) -> ValidationError:
    """A refused action as a ValidationError naming the field (API: 400 ``{field: [reason]}``)."""
    return ValidationError({field: [message]})


class CustomerRecordQuerySet(models.QuerySet):
    """Rows that belong to a customer (deals, tickets, activities, contracts)."""

    def visible_to(self, user):
        """The rows of customers ``user`` may see: the customer's visibility decides, nothing else
        (out of scope answers 404 like a missing row)."""
        return self.filter(customer__in=Customer.objects.visible_to(user))
