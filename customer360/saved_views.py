"""Saving, sharing and deleting views of the customer list. A view stores only the list's own
parameters (filters, sort, columns), never a cursor or an export request."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from customer360.customer_list import available_condition_filters
from customer360.models import SavedView

LIST_PARAMS = ("q", "lifecycle", "country", "owner", "sort", "cols")


def clean_query(raw: str) -> str:
    """The list parameters of ``raw`` (a query string), in a stable order."""
    params = QueryDict(raw or "")
    allowed = [*LIST_PARAMS, *(f.param for f in available_condition_filters())]
    pairs = [(key, value) for key in allowed for value in params.getlist(key) if value.strip()]
    return urlencode(pairs)


def view_url(view: SavedView) -> str:
    base = reverse("customer360:customer_list")
    return f"{base}?{view.query}&saved={view.pk}" if view.query else f"{base}?saved={view.pk}"


@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()[:80]
    if not name:
        messages.error(request, _("Give the view a name."))
        return redirect(
            f"{reverse('customer360:customer_list')}?{clean_query(request.POST.get('query', ''))}"
        )
    query = clean_query(request.POST.get("query", ""))
    shared = request.POST.get("shared") == "on"
    try:
        with transaction.atomic():
            view = SavedView.objects.create(owner=request.user, name=name, shared=shared, query=query)
    except IntegrityError:
        view = SavedView.objects.get(owner=request.user, name=name)
        view.query, view.shared = query, shared
        view.save(update_fields=["query", "shared"])
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return redirect(view_url(view))


@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Only the owner deletes a view; someone else's view answers 404."""
    view = get_object_or_404(SavedView, pk=pk, owner=request.user)
    view.delete()
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect("customer360:customer_list")
