"""Core pages: the customer list, the 360 page shell, health, errors."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.templatetags.static import static
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_POST

from customer360 import access, exports, roles, scores, search, services
from customer360.audit.access import Action, record_access
from customer360.brief import brief_for
from customer360.customer_list import COLUMNS, SORT_LABELS, available_condition_filters
from customer360.customer_list import export_table as customer_export_table
from customer360.customer_list import page as customer_list_page
from customer360.forms import AssignmentForm, NoteForm
from customer360.models import Customer, SavedView, WorkerHeartbeat
from customer360.registry import panels
from customer360.replica import reads_from_replica
from customer360.text import whole_number
from customer360.timeline_page import TimelinePage, filter_choices


@reads_from_replica
def customer_list(request: HttpRequest) -> HttpResponse:
    """All customers the user may see, filtered, sorted and keyset-paginated; ``?export=xlsx|csv``
    downloads the whole filtered list."""
    fmt = exports.requested_format(request)
    if fmt:
        columns, records = customer_export_table(request.user, request.GET)
        return exports.logged_export_response(
            request, records, columns, "customers", fmt, what="customer list"
        )
    context = customer_list_page(request.user, request.GET)
    query = urlencode({**context["active"], "sort": context["sort"]})
    if request.GET.getlist("cols"):
        query += "&" + urlencode([("cols", c) for c in context["columns"]])
    context.update(
        lifecycles=Customer.Lifecycle.choices,
        sorts=SORT_LABELS.items(),
        condition_filters=available_condition_filters(),
        querystring=query,
        column_choices=COLUMNS.items(),
        saved_views=SavedView.objects.usable_by(request.user).select_related("owner"),
        current_view=whole_number(request.GET.get("saved", "")),
    )
    more = request.htmx and request.GET.get("cursor")
    return render(
        request, "customer360/_customer_rows.html" if more else "customer360/customer_list.html", context
    )


@reads_from_replica
def search_typeahead(request: HttpRequest) -> HttpResponse:
    """The header search: at most 8 hits from 2 characters on."""
    query = request.GET.get("q", "").strip()
    hits = []
    if len(query) >= 2:
        hits = search.typeahead(Customer.objects.visible_to(request.user), query, limit=8)
    return render(request, "customer360/_search_results.html", {"hits": hits, "query": query})


def _visible_customer_or_404(user, pk: int, customers=Customer.objects) -> Customer:
    try:
        return customers.get_visible(user, pk=pk)
    except Customer.DoesNotExist:
        raise Http404 from None


def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The 360 page: header, the panels of every department, the unified timeline."""
    customer = _visible_customer_or_404(request.user, pk, Customer.objects.select_related("owner"))
    blocks, badges = [], []
    for panel in panels.all():
        if panel.permission and not request.user.has_perm(panel.permission):
            continue
        blocks.append({"panel": panel, "context": panel.context(request, customer)})
        if panel.badges:
            badges.extend(panel.badges(customer))
    timeline = TimelinePage.from_request(request, customer)
    record_access(request, Action.VIEW_360, customers=[customer.pk], what="customer page")
    return render(
        request,
        "customer360/customer_detail.html",
        {
            "customer": customer,
            "blocks": blocks,
            "badges": badges,
            "timeline": timeline,
            "timeline_filters": filter_choices(),
            "brief": brief_for(customer, request.user),
            "risk_scores": scores.risks_for(customer),
            "note_form": NoteForm(),
            "can_privacy": roles.has_role(request.user, roles.ADMIN),
        },
    )


@require_POST
def customer_add_note(request: HttpRequest, pk: int) -> HttpResponse:
    """Quick action: a note on the timeline; answers with the refreshed first timeline page."""
    customer = get_object_or_404(Customer.objects.visible_to(request.user), pk=pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return render(
            request, "customer360/_note_form.html", {"customer": customer, "note_form": form}, status=400
        )
    services.note_add(
        customer=customer, user=request.user, text=form.cleaned_data["text"], token=form.cleaned_data["token"]
    )
    response = render(request, "customer360/_note_form.html", {"customer": customer, "note_form": NoteForm()})
    response["HX-Trigger"] = "timeline-changed"
    return response


def customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """One page of the timeline (htmx "load more" and filters)."""
    customer = _visible_customer_or_404(request.user, pk)
    timeline = TimelinePage.from_request(request, customer)
    return render(request, "customer360/_timeline.html", {"customer": customer, "timeline": timeline})


@login_not_required
@never_cache
def health(request: HttpRequest) -> HttpResponse:
    """Database, Redis (cache), broker and worker heartbeat; 200 when all are ok, 503 otherwise
    (with Retry-After, and naming what fails)."""
    checks = {"database": _check_database()}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis()
    checks.update({"broker": _check_broker(), "worker": _check_worker()})
    healthy = all(c["ok"] for c in checks.values())
    status = 200 if healthy else 503
    if request.GET.get("format") == "json" or not checks["database"]["ok"]:
        # Without the database the page shell (menus, the user) cannot be drawn: JSON then.
        response = JsonResponse({"status": "ok" if healthy else "failing", "checks": checks}, status=status)
    else:
        response = render(
            request, "customer360/health.html", {"checks": checks, "healthy": healthy}, status=status
        )
    if not healthy:
        response["Retry-After"] = "30"
    return response


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "detail": connection.vendor}
    except Exception as exc:  # health reports every failure instead of raising
        return {"ok": False, "detail": exc.__class__.__name__}


def _check_redis() -> dict:
    """One PING with a short timeout (the cache degrades silently; this is where it shows)."""
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
        return {"ok": True, "detail": "Redis"}
    except Exception as exc:  # health reports every failure instead of raising
        return {"ok": False, "detail": f"Redis unreachable ({exc.__class__.__name__})"}


def _check_broker() -> dict:
    from customer360.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
        return {"ok": True, "detail": str(transport)}
    except Exception as exc:  # health reports every failure instead of raising
        name = "Redis" if settings.CELERY_BROKER_URL.startswith("redis") else "broker"
        return {"ok": False, "detail": f"{name} unreachable ({exc.__class__.__name__})"}


def _check_worker() -> dict:
    try:
        latest = WorkerHeartbeat.objects.order_by("-seen_at").first()
    except DatabaseError as exc:
        return {"ok": False, "detail": exc.__class__.__name__}
    if latest is None:
        return {"ok": False, "detail": "no heartbeat yet"}
    age = (timezone.now() - latest.seen_at).total_seconds()
    ok = age <= settings.C360_WORKER_HEARTBEAT_MAX_AGE
    return {"ok": ok, "detail": f"last heartbeat {int(age)} s ago", "age_seconds": int(age)}


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    """403 that says what is missing (the exception's message names the permission or role)."""
    reason = str(exception) if exception and str(exception) else _("Your role does not allow this.")
    return render(request, "403.html", {"reason": reason}, status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """404 page; under /api/ the API's JSON answer (a path no route matches, e.g. a non-numeric id)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return render(request, "404.html", status=404)


@login_not_required
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on their own (PDFs, JSON, the API docs); pages link the SVG.
    The URL is looked up per request: production's hashed name exists only after collectstatic."""
    return HttpResponsePermanentRedirect(static("c360/favicon.svg"))


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """500 page without the request context (the error may come from it); JSON under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("A server error occurred.")}, status=500)
    return HttpResponse(loader.get_template("500.html").render(), status=500)


def customer_access(request: HttpRequest, pk: int) -> HttpResponse:
    """Who works with this customer, and so may see it: owner, team, departments and people
    assigned by a lead or an admin. Assigning and revoking are recorded decisions."""
    access.require(request.user, "customer360.view_customerassignment")
    customer = access.visible_customer(request.user, pk, Customer.objects.select_related("owner__profile"))
    form = AssignmentForm(request.POST or None)
    if request.method == "POST":
        access.require(request.user, "customer360.add_customerassignment")
        if form.is_valid():
            services.customer_assign(
                customer=customer,
                by=request.user,
                department=form.cleaned_data["department"] or "",
                user=form.cleaned_data["user"],
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, _("Assigned."))
            return redirect("customer360:customer_access", pk=customer.pk)
    assignments = customer.assignments.select_related("user", "granted_by", "revoked_by").order_by(
        "revoked_at", "-created_at"
    )
    return render(
        request,
        "customer360/customer_access.html",
        {
            "customer": customer,
            "assignments": assignments,
            "form": form,
            "can_assign": request.user.has_perm("customer360.add_customerassignment"),
            "can_revoke": request.user.has_perm("customer360.delete_customerassignment"),
        },
    )


@require_POST
def customer_access_revoke(request: HttpRequest, pk: int, assignment_pk: int) -> HttpResponse:
    """End an assignment (the row stays, with who ended it and when)."""
    access.require(request.user, "customer360.delete_customerassignment")
    customer = access.visible_customer(request.user, pk)
    assignment = get_object_or_404(customer.assignments, pk=assignment_pk)
    services.assignment_revoke(assignment=assignment, by=request.user)
    messages.success(request, _("Assignment ended."))
    return redirect("customer360:customer_access", pk=customer.pk)
