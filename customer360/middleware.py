"""Request checks that come before any view."""

from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _


class NulQueryParameterMiddleware:
    """A NUL character in a query parameter answers 400 naming the parameter.

    PostgreSQL refuses NUL in text, so a ``?q=%00`` that reached a query was a 500; no parameter of
    this application may contain one (forms and serializers refuse it in bodies already)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                name = name.replace("\x00", "")
                message = _("Null characters are not allowed.")
                if request.path.startswith("/api/"):
                    return JsonResponse({name: [message]}, status=400)
                return HttpResponseBadRequest(f"{name}: {message}", content_type="text/plain; charset=utf-8")
        return self.get_response(request)
