"""A database outage answers 503 with Retry-After, never 500.

During a PostgreSQL restart (a few seconds) every query fails with ``OperationalError`` or
``InterfaceError``. That is not a bug of the page but a moment to wait, and the client should be
told so: 503 with ``Retry-After`` (JSON under /api/, a small page elsewhere). The bulk API's
clients retry on it; records carry idempotency keys, so a retried batch lands once.

Two hooks, because Django turns an exception into a response at the layer where it happens: the
middleware catches what a view raises (also with DEBUG on), ``server_error`` (``handler500``)
what a middleware raises (loading the session or the user). Neither touches the database.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
OUTAGE = (OperationalError, InterfaceError)


def unavailable(request) -> HttpResponse:
    """The 503 answer itself: no template, no context processors, no query."""
    message = _("The database is restarting or unreachable. Please try again in a few seconds.")
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        response = JsonResponse({"detail": message, "retry_after": RETRY_AFTER_SECONDS}, status=503)
    else:
        title = _("Briefly unavailable")
        html = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>"
        )
        response = HttpResponse(html, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseOutageMiddleware:
    """Turns a database connection error raised by a view into the 503 answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OUTAGE):
            logger.warning("database unavailable on %s: %s", request.path, exception.__class__.__name__)
            return unavailable(request)
        return None


def server_error(request, *args, **kwargs) -> HttpResponse:
    """``handler500``: a database outage raised outside a view is a 503 as well; any other error
    gets the app's 500 page (customer360.views.server_error)."""
    exception = sys.exc_info()[1]
    if isinstance(exception, OUTAGE):
        logger.warning("database unavailable on %s: %s", request.path, exception.__class__.__name__)
        return unavailable(request)
    from customer360.views import server_error as app_server_error

    return app_server_error(request)
