"""Sign-in pages: login and its lockout, the second factor, the account's security page, password
change and reset (Django's views with our templates)."""

from __future__ import annotations

from base64 import b32encode

import django_otp
import segno
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from customer360.signin import security_log
from customer360.signin.forms import TokenForm
from customer360.signin.middleware import second_factor_exempt
from customer360.signin.models import RoleSecurityPolicy
from customer360.signin.policy import has_authenticator


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' lockout answer: the login page again, saying why the password is refused."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    form = AuthenticationForm(request, initial={"username": (credentials or {}).get("username", "")})
    context = {
        "form": form,
        "locked_out": _(
            "Sign-in is locked after %(limit)d failed attempts for this account or from this network. "
            "Try again in %(minutes)d minutes, reset your password, or ask an admin to unlock it."
        )
        % {"limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes},
        "next": request.POST.get("next", ""),
    }
    return render(request, "registration/login.html", context, status=429)


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def _confirm_second_factor(request: HttpRequest, device) -> None:
    django_otp.login(request, device)
    request.session.cycle_key()  # a new session key for the fully signed-in session


@second_factor_exempt
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """Second step of the sign-in: the code from the authenticator app."""
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    if not has_authenticator(user):
        return redirect(f"{reverse('two_factor_setup')}?{request.GET.urlencode()}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = django_otp.match_token(user, form.cleaned_data["token"])
        if device is not None:
            _confirm_second_factor(request, device)
            return redirect(_next_url(request))
        security_log.second_factor_failed(request, user)
        form.add_error("token", _("This code is not valid. Wait for the next code and try again."))
    context = {"form": form, "next": _next_url(request), "hide_topbar": True}
    return render(request, "signin/two_factor_verify.html", context)


@second_factor_exempt
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Connect an authenticator app: a QR code (and the key as text), confirmed by its first code.

    Someone who already has an app must confirm with it first: the password alone never connects a
    new one."""
    user = request.user
    if has_authenticator(user) and not user.is_verified():
        return redirect(f"{reverse('two_factor_verify')}?{request.GET.urlencode()}")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()  # the app it replaces
            _confirm_second_factor(request, device)
            messages.success(request, _("Your authenticator app is connected."))
            return redirect(_next_url(request))
        security_log.second_factor_failed(request, user)
        form.add_error("token", _("This code is not valid. Check the time on your phone and try again."))
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, omitsize=True)
    secret = b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "qr_svg": mark_safe(qr_svg),  # noqa: S308 - segno's own SVG of our URL, no user input
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "next": _next_url(request),
        "required": RoleSecurityPolicy.objects.requiring_second_factor(user),
        # Before the sign-in is confirmed, nothing else can be used: no menu, search or bell.
        "hide_topbar": not user.is_verified(),
    }
    return render(request, "signin/two_factor_setup.html", context)


@require_POST
def two_factor_remove(request: HttpRequest) -> HttpResponse:
    """Disconnect the authenticator app, unless the user's role requires one."""
    if RoleSecurityPolicy.objects.requiring_second_factor(request.user):
        messages.error(
            request, _("Your role requires an authenticator app; you can replace it, not remove it.")
        )
    else:
        TOTPDevice.objects.filter(user=request.user).delete()
        messages.success(request, _("Your authenticator app is disconnected."))
    return redirect("account_security")


def account_security(request: HttpRequest) -> HttpResponse:
    """The user's own sign-in settings: password, authenticator app, session limits."""
    user = request.user
    context = {
        "has_authenticator": has_authenticator(user),
        "required": RoleSecurityPolicy.objects.requiring_second_factor(user),
        "max_age_hours": settings.C360_SESSION_MAX_AGE / 3600,
        "idle_minutes": settings.C360_SESSION_IDLE_TIMEOUT / 60,
    }
    return render(request, "signin/security.html", context)


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("account_security")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password has been changed."))
        return response


class PasswordResetView(auth_views.PasswordResetView):
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        # A new password ends a lockout of the account (not of the address).
        axes_reset(username=form.user.get_username())
        return response


logout = second_factor_exempt(auth_views.LogoutView.as_view())


@login_not_required
@second_factor_exempt
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch, open before sign-in (the login page has it too). A signed-in
    person's choice is kept on their profile: e-mails to them (the digest) use it."""
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    if request.method == "POST" and request.user.is_authenticated and language in dict(settings.LANGUAGES):
        from customer360.models import StaffProfile

        StaffProfile.objects.update_or_create(user=request.user, defaults={"language": language})
    return response
