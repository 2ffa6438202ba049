"""The OpenAPI schema as the API really answers: drf-spectacular plus the error responses.

drf-spectacular documents only the success response. Every operation can also answer with a JSON error
body: 401/403 (not signed in, role or CSRF), 404 (a record that does not exist or that the caller may
not see, a page past the end), 400 (a parameter or body that does not validate, a refused action),
415 (a body in a media type the operation does not parse) and 429 (throttled). A view's own
``@extend_schema(responses={...})`` wins over these defaults.
"""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework import serializers

from customer360.api.routers import ID_REGEX

# DRF's error bodies: {"detail": "..."}, {"field": ["reason", ...]} or a list of reasons.
ERROR_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "additionalProperties": {},
        },
        {"type": "array", "items": {}},
    ]
}

ERROR_DESCRIPTIONS = {
    "400": "A parameter or the body does not validate, or the action is refused; the body names why.",
    "401": "Not authenticated (token endpoints).",
    "403": "Not signed in, the role does not allow this, or the CSRF token is missing.",
    "404": "No such record, a record the caller may not see, or a page past the end.",
    "415": "The body's media type is not supported.",
    "429": "Too many requests; retry after the time in Retry-After.",
}


class AutoSchema(SpectacularAutoSchema):
    """Adds the error responses an operation can give to the ones drf-spectacular derives."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            responses.setdefault(
                code,
                {
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                    "description": ERROR_DESCRIPTIONS[code],
                },
            )
        return responses

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response":
            # Stored addresses may be international (josef.müller@...), which "format: email" refuses;
            # an answer declares them as plain strings (requests still validate as e-mail addresses).
            for name, field in force_instance(serializer).fields.items():
                if isinstance(field, serializers.EmailField) and name in schema["properties"]:
                    prop = schema["properties"][name]
                    prop.pop("format", None)
                    if "oneOf" in prop:  # [e-mail, blank] becomes one plain string ("" matched both)
                        prop.update({k: v for k, v in prop.pop("oneOf")[0].items() if k != "format"})
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction != "response":
            return schema
        model_field = _model_field_of(field)
        if model_field is None:
            return schema
        if model_field.null and not field.allow_null:
            schema["nullable"] = True
        if isinstance(field, serializers.ChoiceField) and model_field.blank and not field.allow_blank:
            # A read-only choice of a blank=True model field answers "" when it is not set.
            if "enum" in schema and "" not in schema["enum"]:
                schema["enum"] = [*schema["enum"], ""]
            elif len(schema.get("allOf", [])) == 1:
                schema["oneOf"] = [schema.pop("allOf")[0], {"type": "string", "enum": [""]}]
        return schema

    def _get_filter_parameters(self):
        # django-filter ignores an empty value (``?status=``): the schema says so.
        parameters = super()._get_filter_parameters()
        for parameter in parameters:
            if parameter.get("in") == "query":
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_pagination_parameters(self):
        # DRF's paginator reads an empty ``?page=`` as the first page.
        parameters = super()._get_pagination_parameters()
        for parameter in parameters:
            parameter["allowEmptyValue"] = True
        return parameters

    def _resolve_path_parameters(self, variables):
        # The routers' id regex (1 to 18 digits) is an integer that fits a bigint.
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["schema"].get("pattern") == f"^{ID_REGEX}$":
                parameter["schema"] = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
        return parameters

    def _error_codes(self) -> list[str]:
        codes = ["400", "401", "403", "404"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        return codes


def _model_field_of(field):
    """The model field a ModelSerializer field reads directly (``source`` without dots), or None."""
    meta = getattr(field.parent, "Meta", None)
    model = getattr(meta, "model", None)
    if model is None or not field.source or "." in field.source or field.source == "*":
        return None
    try:
        return model._meta.get_field(field.source)
    except FieldDoesNotExist:
        return None
