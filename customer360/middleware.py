"""Every page needs a login, except the login page itself, health, static files and the API
(which answers 401/403 itself, so machines get JSON and not a redirect)."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

_OPEN_PREFIXES = ("/accounts/login/", "/health/", "/static/", "/i18n/", "/api/", "/favicon.ico")


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(_OPEN_PREFIXES):
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)


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
