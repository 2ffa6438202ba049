"""Query-parameter filters of the API: typed, bounded, and silent about records out of scope.

django-filter's defaults answered ``?customer=<id of someone else's customer>`` with results (empty)
but ``?customer=<id that does not exist>`` with 400 "Select a valid choice", which tells anyone which
ids exist. A relation is filtered by its id here: a whole number within PostgreSQL's bigint, no
existence check, so a customer the caller may not see and one that does not exist both give an empty
list. Booleans accept only true/false (and 1/0); anything else is a 400 naming the parameter, not a
silently ignored filter.
"""

from __future__ import annotations

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_filters import filters
from django_filters import rest_framework as drf_filters
from django_filters.rest_framework.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from rest_framework.exceptions import ValidationError

MAX_ID = 10**18 - 1


class IntegerFilter(filters.NumberFilter):
    """A whole number within PostgreSQL's bigint ("1.5", "-2.9e264" and 10**20 do not validate)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -MAX_ID)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class IdFilter(IntegerFilter):
    """A related record by id: a whole number from 0 to 10**18 - 1, never looked up."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.NullBooleanField):
    """true/false/1/0 (any case); empty means "not filtered"; anything else does not validate."""

    widget = forms.TextInput
    default_error_messages = {"invalid": _("Enter true or false.")}
    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        try:
            return self.VALUES[str(value).lower()]
        except KeyError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


_DEFAULTS = {
    **FILTER_FOR_DBFIELD_DEFAULTS,
    models.ForeignKey: {"filter_class": IdFilter},
    models.OneToOneField: {"filter_class": IdFilter},
    models.BooleanField: {"filter_class": StrictBooleanFilter},
    **{
        field: {"filter_class": IntegerFilter}
        for field in (
            models.IntegerField,
            models.SmallIntegerField,
            models.BigIntegerField,
            models.PositiveIntegerField,
            models.PositiveSmallIntegerField,
            models.PositiveBigIntegerField,
            models.AutoField,
            models.BigAutoField,
        )
    },
}


class FilterSet(drf_filters.FilterSet):
    """The base of every API FilterSet (and of the ones built from ``filterset_fields``)."""

    FILTER_DEFAULTS = _DEFAULTS


class FilterBackend(drf_filters.DjangoFilterBackend):
    """DjangoFilterBackend whose automatic FilterSets use the typed filters above."""

    filterset_base = FilterSet


def query_id(request, name: str) -> int | None:
    """An optional id query parameter read by hand: None when absent or empty, 400 naming it when invalid."""
    return _query_value(request, name, IdFilter.field_class(required=False, min_value=0, max_value=MAX_ID))


def query_bool(request, name: str) -> bool | None:
    """An optional boolean query parameter read by hand: None when absent or empty, 400 when invalid."""
    return _query_value(request, name, StrictBooleanField(required=False))


def _query_value(request, name: str, field: forms.Field):
    try:
        return field.clean(request.query_params.get(name, ""))
    except forms.ValidationError as exc:
        raise ValidationError({name: exc.messages}) from None
