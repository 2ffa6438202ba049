"""The context of history rows written during a web request: who, through which path, which URL."""

from __future__ import annotations

from django.db import connection
from pghistory.middleware import HistoryMiddleware


def path_of(request) -> str:
    """ "api" for the REST API (personal tokens, the bulk API, webhooks), "page" for everything else."""
    return "api" if request.path.startswith("/api/") else "page"


class HistoryContextMiddleware(HistoryMiddleware):
    """django-pghistory's middleware with the path added; does nothing off PostgreSQL, where no
    trigger would read the context (and SQLite would refuse the ``set_config`` it adds).

    A user who signs in through the API (a personal token) is set by DRF in the view, after this
    middleware: pghistory's request class picks that assignment up and adds the user to the context.
    """

    def get_context(self, request) -> dict:
        return {**super().get_context(request), "path": path_of(request), "method": request.method}

    def __call__(self, request):
        if connection.vendor != "postgresql":
            return self.get_response(request)
        return super().__call__(request)
