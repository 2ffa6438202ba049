"""The "API tokens" page: a user's personal tokens, a new one (its secret shown once), revoking."""

from __future__ import annotations

import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.validators import MaxValueValidator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from customer360.models import API_AREAS, api_scope
from customer360.services import api_token_create, api_token_revoke

NO_ACCESS, READ, WRITE = "", "read", "write"
ACCESS_CHOICES = [
    (NO_ACCESS, gettext_lazy("No access")),
    (READ, gettext_lazy("Read")),
    (WRITE, gettext_lazy("Read and write")),
]


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=80,
        help_text=gettext_lazy("What uses the token, e.g. “nightly export”."),
    )
    days = forms.IntegerField(label=gettext_lazy("Valid for (days)"), min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].validators.append(MaxValueValidator(settings.C360_API_TOKEN_MAX_DAYS))
        self.fields["days"].widget.attrs["max"] = settings.C360_API_TOKEN_MAX_DAYS
        self.fields["days"].initial = min(
            settings.C360_API_TOKEN_DEFAULT_DAYS, settings.C360_API_TOKEN_MAX_DAYS
        )
        for area, label in API_AREAS.items():
            self.fields[f"scope_{area}"] = forms.ChoiceField(
                label=label, choices=ACCESS_CHOICES, required=False, initial=NO_ACCESS
            )

    def scope_fields(self):
        return [self[f"scope_{area}"] for area in API_AREAS]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.scopes():
            raise forms.ValidationError(_("Give the token access to at least one area."))
        return cleaned

    def scopes(self) -> list[str]:
        scopes = []
        for area in API_AREAS:
            access = self.cleaned_data.get(f"scope_{area}")
            if access in (READ, WRITE):
                scopes.append(api_scope(area, write=False))
            if access == WRITE:
                scopes.append(api_scope(area, write=True))
        return scopes


@login_required
@never_cache
def token_list(request):
    """GET: the user's tokens and the form; POST: create one and show its secret this once."""
    secret = None
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token, secret = api_token_create(
            user=request.user,
            name=form.cleaned_data["name"],
            scopes=form.scopes(),
            expires_at=timezone.now() + datetime.timedelta(days=form.cleaned_data["days"]),
        )
        form = ApiTokenForm()
    tokens = request.user.api_tokens.all()
    return render(
        request,
        "customer360/api_tokens.html",
        {"form": form, "tokens": tokens, "secret": secret, "now": timezone.now()},
        status=400 if request.method == "POST" and secret is None else 200,
    )


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(request.user.api_tokens, pk=pk)
    api_token_revoke(token=token, by=request.user)
    messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
    return redirect("customer360:api_tokens")
