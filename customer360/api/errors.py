"""The API's one exception handler: a service's refusal is a 400 naming the field, a record that is
missing or out of the caller's scope a 404 with the same message either way."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def validation_detail(exc: DjangoValidationError) -> dict:
    """``{field: [messages]}``; errors without a field under ``non_field_errors``."""
    if hasattr(exc, "error_dict"):
        return {
            field: [m for error in errors for m in error.messages] for field, errors in exc.error_dict.items()
        }
    return {"non_field_errors": exc.messages}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_detail(exc))
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)
