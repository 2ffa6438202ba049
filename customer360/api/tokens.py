"""Personal API tokens on the API: ``Authorization: Bearer c360u_...`` and the scopes they carry.

A token never carries more than its user: authentication yields the user, so the user's own
permissions and customer scope apply as for a session; ``TokenScopePermission`` narrows it further
to the token's scopes ("<area>:read" for safe methods, "<area>:write" for the others).
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from customer360.models import API_AREAS, API_TOKEN_PREFIX, ApiToken, api_scope
from customer360.services import api_token_for
from customer360.signin.security_log import client_ip

logger = logging.getLogger("customer360.security")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """A personal token in ``Authorization: Bearer <token>``; ``request.auth`` becomes the ApiToken.

    Other bearer tokens (a data source's) are left to their own endpoints; a personal token that is
    unknown, expired or revoked answers 401.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if len(header) != 2 or header[0].lower() != "bearer" or not header[1].startswith(API_TOKEN_PREFIX):
            return None
        token = api_token_for(header[1])
        if token is None:
            logger.warning(
                "rejected api token %s… from %s",
                header[1][: len(API_TOKEN_PREFIX) + 6],
                client_ip(request) or "-",
            )
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        token.touch()
        return token.user, token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


API_ROOT = "/api/"  # where customer360.urls mounts customer360.api.urls (path_info, no script prefix)


def api_area_of(path_info: str) -> str | None:
    """The API area of a request path ("/api/crm/tickets/" -> "crm"), None outside the areas."""
    if not path_info.startswith(API_ROOT):
        return None
    area = path_info[len(API_ROOT) :].split("/", 1)[0]
    return area if area in API_AREAS else None


class TokenScopePermission(permissions.BasePermission):
    """Requests made with a personal token need its scope for the area; sessions are not affected."""

    message = _("This API token does not carry the scope this request needs.")

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        area = api_area_of(request.path_info)
        write = request.method not in permissions.SAFE_METHODS
        if area is not None and token.allows(area, write=write):
            return True
        self.message = _("This API token does not carry the scope %(scope)s.") % {
            "scope": api_scope(area or "?", write)
        }
        return False


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the schema documents personal tokens."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (page 'API tokens' in the user menu); it carries scopes and expires.",
        }
