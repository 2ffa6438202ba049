"""Every page needs a login, except the login page itself, health, static files and the API
(which answers 401/403 itself, so machines get JSON and not a redirect)."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login

_OPEN_PREFIXES = ("/accounts/login/", "/health/", "/static/", "/i18n/", "/api/", "/favicon.ico")


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(_OPEN_PREFIXES):
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)
