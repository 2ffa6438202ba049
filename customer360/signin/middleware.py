"""Sign-in middleware: session limits, the login requirement, the second factor.

Order in ``MIDDLEWARE``: after ``AuthenticationMiddleware`` and django-otp's ``OTPMiddleware``;
``SessionTimeoutMiddleware`` ends an expired session before a view sees it, the login requirement
then sends the now anonymous visitor to the login page.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect
from rest_framework.views import APIView

from customer360.signin import security_log
from customer360.signin.policy import has_authenticator, second_factor_required

#: session keys: when the password was accepted, when the session was last seen (epoch seconds),
#: until when the user is known to need no second factor
SIGNED_IN_AT = "c360_signed_in_at"
LAST_SEEN_AT = "c360_last_seen_at"
NO_SECOND_FACTOR_UNTIL = "c360_no_2fa_until"
#: the header a page's automatic background requests carry (the bell's 30-second poll): they see
#: whether the session has ended, but are not activity, so a tab left open still times out
BACKGROUND_HEADER = "X-C360-Background"


def is_background(request) -> bool:
    return request.headers.get(BACKGROUND_HEADER) == "true"


@receiver(user_logged_in, dispatch_uid="c360_session_start")
def start_session_clock(sender, request, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    now = int(time.time())
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN_AT] = now
    # Decided once at login, so the first pages after it ask the database nothing about it.
    if second_factor_required(user):
        request.session.pop(NO_SECOND_FACTOR_UNTIL, None)
    else:
        request.session[NO_SECOND_FACTOR_UNTIL] = now + settings.C360_SESSION_TOUCH_INTERVAL


class SessionTimeoutMiddleware:
    """Ends a session C360_SESSION_MAX_AGE seconds after sign-in, or after C360_SESSION_IDLE_TIMEOUT
    seconds without a request of the user's (background polls, see ``BACKGROUND_HEADER``, do not
    count). The last-seen time is written only when it is older than
    C360_SESSION_TOUCH_INTERVAL, so a busy page does not write its session on every request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        if auth.SESSION_KEY in session:
            self._check(request, session)
        return self.get_response(request)

    def _check(self, request, session) -> None:
        now = int(time.time())
        signed_in_at = session.get(SIGNED_IN_AT)
        last_seen_at = session.get(LAST_SEEN_AT)
        if signed_in_at is None or last_seen_at is None:  # a session from before these limits
            session[SIGNED_IN_AT] = signed_in_at or now
            session[LAST_SEEN_AT] = now
        elif now - signed_in_at >= settings.C360_SESSION_MAX_AGE:
            hours = settings.C360_SESSION_MAX_AGE / 3600
            self._end(
                request,
                "absolute",
                _("Your session ended after %(hours)g hours. Please log in again.") % {"hours": hours},
            )
        elif now - last_seen_at >= settings.C360_SESSION_IDLE_TIMEOUT:
            minutes = settings.C360_SESSION_IDLE_TIMEOUT / 60
            self._end(
                request,
                "idle",
                _("Your session ended after %(minutes)g minutes without activity. Please log in again.")
                % {"minutes": minutes},
            )
        elif now - last_seen_at >= settings.C360_SESSION_TOUCH_INTERVAL and not is_background(request):
            session[LAST_SEEN_AT] = now

    @staticmethod
    def _end(request, reason: str, message: str) -> None:
        user_id = request.session.get(auth.SESSION_KEY)
        auth.logout(request)
        security_log.session_ended(request, user_id, reason)
        messages.info(request, message)


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's login requirement; an htmx request is sent to the login page as a whole page,
    instead of the login form being swapped into a fragment of the page."""

    def handle_no_permission(self, request, view_func):
        if getattr(request, "htmx", False):
            path = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': path})}")
        return super().handle_no_permission(request, view_func)


def second_factor_exempt(view_func):
    """Marks a view that a signed-in user may use before confirming the second factor."""
    view_func.second_factor_exempt = True
    return view_func


class SecondFactorMiddleware:
    """A user whose role requires a second factor, or who has an authenticator app, may use nothing
    but the second-factor pages (and logout) until the code is confirmed. Browsers are sent to set
    up or confirm the code; the API answers 403 in JSON. Whether a user needs no second factor is
    kept in the session for a minute, so most requests ask the database nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "second_factor_exempt", False):
            return None
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        now = int(time.time())
        if request.session.get(NO_SECOND_FACTOR_UNTIL, 0) > now:
            return None
        if not second_factor_required(user):
            request.session[NO_SECOND_FACTOR_UNTIL] = now + settings.C360_SESSION_TOUCH_INTERVAL
            return None
        view_class = getattr(view_func, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            return JsonResponse(
                {"detail": _("Confirm your sign-in with the code from your authenticator app first.")},
                status=403,
            )
        if getattr(request, "htmx", False):
            # A fragment asked for by a page that was allowed (the second-factor pages): refused
            # quietly, the page itself already leads on.
            return HttpResponseForbidden()
        target = "two_factor_verify" if has_authenticator(user) else "two_factor_setup"
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
