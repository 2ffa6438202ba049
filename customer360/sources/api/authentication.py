"""Authentication and throttling of the ingestion API by the data source's own token."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.throttling import SimpleRateThrottle

from customer360.models import DataSource
from customer360.sources.services import source_for_token


class SourceTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>``; ``request.auth`` becomes the DataSource.

    A missing or wrong token answers 401 (``authenticate_header`` makes DRF say 401, not 403).
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in ("bearer", "token"):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header.")
        source = source_for_token(header[1])
        if source is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return AnonymousUser(), source

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsSourceWithToken:
    """Only a request authenticated by a source token, for that very source."""

    message = "Authentication with the data source's token is required."

    def has_permission(self, request, view) -> bool:
        source = request.auth
        return isinstance(source, DataSource) and source.slug == view.kwargs.get("slug")

    def has_object_permission(self, request, view, obj) -> bool:
        return True


class SourceRateThrottle(SimpleRateThrottle):
    """Requests per data source: ``C360_SOURCE_API_RATE``, default 120/min.

    Counts only requests that proved to come from the source: ``request.auth`` is the DataSource,
    set by :class:`SourceTokenAuthentication` or by the webhook view once the signature is verified.
    Anything else is not counted here, so nobody who merely knows a slug can use up a source's rate.
    """

    scope = "c360_source"

    def get_rate(self) -> str:
        return getattr(settings, "C360_SOURCE_API_RATE", "120/min")

    def get_cache_key(self, request, view) -> str | None:
        source = request.auth
        if isinstance(source, DataSource):
            return self.cache_format % {"scope": self.scope, "ident": source.pk}
        return None


class WebhookIPThrottle(SimpleRateThrottle):
    """Webhook requests per client IP, counted before the signature is checked:
    ``C360_WEBHOOK_IP_RATE``, default 600/min.

    The IP is REMOTE_ADDR, or X-Forwarded-For behind ``NUM_PROXIES`` trusted proxies (DRF's ``get_ident``).
    """

    scope = "c360_webhook_ip"

    def get_rate(self) -> str:
        return getattr(settings, "C360_WEBHOOK_IP_RATE", "600/min")

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SourceTokenScheme(OpenApiAuthenticationExtension):
    """How the schema documents the source token (a bearer token per data source)."""

    target_class = SourceTokenAuthentication
    name = "sourceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The data source's API token (shown once).",
        }
