"""History and audit pages: a record's change history, the access log and the change history for
admins (filtered, exportable as CSV: that export is itself in the access log), retention."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customer360 import access, roles
from customer360.audit import display, history, retention
from customer360.audit.access import Action, record_access, rows_about
from customer360.audit.models import AccessLog
from customer360.models import Customer
from customer360.sources.reading import neutralise

PAGE = 25
CSV_LIMIT = 50_000


def require_admin(user) -> None:
    if not roles.has_role(user, roles.ADMIN):
        raise PermissionDenied(_("The audit pages are for administrators."))


def _user_names(ids) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in={i for i in ids if i})
    return {u.pk: u.get_full_name() or u.get_username() for u in users}


def _changes_page(request: HttpRequest, events) -> dict:
    page = Paginator(events, PAGE).get_page(request.GET.get("page"))
    changes = display.describe([history.to_change(event) for event in page.object_list])
    names = _user_names(c.user_id for c in changes)
    for change in changes:
        change.user_name = names.get(change.user_id, "")
    return {"page": page, "changes": changes, "enabled": history.enabled()}


def _render_changes(request, template: str, context: dict, events) -> HttpResponse:
    context.update(_changes_page(request, events) if history.enabled() else {"enabled": False})
    if request.htmx:
        return render(request, "audit/_changes.html", context)
    return render(request, template, context)


def customer_history(request: HttpRequest, pk: int) -> HttpResponse:
    """The change history of a customer and of every record pointing at it that the user may read."""
    access.require(request.user, "customer360.view_customer")
    customer = access.visible_customer(request.user, pk)
    events = history.events_about(customer, request.user) if history.enabled() else None
    context = {
        "customer": customer,
        "record": customer,
        "page_url": request.path,
        "is_admin": roles.has_role(request.user, roles.ADMIN),
    }
    return _render_changes(request, "audit/history.html", context, events)


def record_history(request: HttpRequest, model: str, pk: int) -> HttpResponse:
    """The change history of one record of a tracked model that belongs to a customer (a ticket,
    a deal, an invoice ...) and of the records that belong to it: who may see the customer and
    read the model may read its history (``history.readable_record``)."""
    record_model = history.record_models().get(model.lower())
    if record_model is None:
        raise Http404
    access.require(request.user, history.view_permission(record_model))
    record = history.readable_record(request.user, record_model, pk)
    if record is None:
        raise Http404
    events = history.events_of(record, request.user) if history.enabled() else None
    context = {"customer": record.customer, "record": record, "page_url": request.path}
    return _render_changes(request, "audit/history.html", context, events)


# --- Admin: access log and change history ---------------------------------------------------------
class AuditFilter(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), required=False)
    end = forms.DateField(label=gettext_lazy("To"), required=False)
    user = forms.ModelChoiceField(
        label=gettext_lazy("User"), queryset=get_user_model().objects.order_by("username"), required=False
    )
    customer = forms.IntegerField(label=gettext_lazy("Customer id"), required=False, min_value=1)
    action = forms.ChoiceField(label=gettext_lazy("Action"), required=False)
    path = forms.ChoiceField(label=gettext_lazy("Path"), required=False)

    def __init__(self, *args, actions=(), paths=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("any")), *actions]
        self.fields["path"].choices = [("", _("any")), *paths]

    def bounds(self) -> tuple[datetime, datetime]:
        """The date range as aware datetimes; the last 30 days unless given."""
        today = timezone.localdate()
        start = self.cleaned_data.get("start") or today - timedelta(days=30)
        end = self.cleaned_data.get("end") or today
        zone = timezone.get_current_timezone()
        return (
            timezone.make_aware(datetime.combine(start, time.min), zone),
            timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), zone),
        )


def _csv(filename: str, header: list[str], rows) -> HttpResponse:
    """A CSV download (UTF-8 with BOM for spreadsheets); text that a spreadsheet would run as a
    formula is neutralised."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(v) if isinstance(v, str) else v for v in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def access_log(request: HttpRequest) -> HttpResponse:
    """Every access, filtered by date range, user, customer and action; ``?format=csv`` exports."""
    require_admin(request.user)
    form = AuditFilter(request.GET, actions=Action.choices)
    entries = AccessLog.objects.none()
    if form.is_valid():
        start, end = form.bounds()
        entries = AccessLog.objects.filter(at__gte=start, at__lt=end)
        data = form.cleaned_data
        if data.get("user"):
            entries = entries.filter(user=data["user"])
        if data.get("action"):
            entries = entries.filter(action=data["action"])
        if data.get("customer"):
            entries = entries.filter(pk__in=rows_about(data["customer"]).values("pk"))
    if request.GET.get("format") == "csv" and form.is_valid():
        rows = list(entries[:CSV_LIMIT])
        record_access(request, Action.EXPORT, rows=len(rows), what="access log")
        return _csv(
            "access-log.csv",
            ["at", "user", "action", "what", "customers", "rows", "address", "browser"],
            (
                [
                    e.at.isoformat(),
                    e.username,
                    e.action,
                    e.what,
                    e.customer_count,
                    e.rows,
                    e.client_ip or "",
                    e.user_agent,
                ]
                for e in rows
            ),
        )
    page = Paginator(entries, PAGE).get_page(request.GET.get("page"))
    for entry in page.object_list:  # in the reader's language; stored (and exported) as written
        entry.what_shown = display.access_what(entry.what)
    return render(request, "audit/access_log.html", {"form": form, "page": page, "query": _query(request)})


def _query(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return query.urlencode()


PATHS = [
    ("page", gettext_lazy("Page")),
    ("api", gettext_lazy("API")),
    ("import", gettext_lazy("Import")),
    ("task", gettext_lazy("Task")),
]
LABELS = [
    ("insert", gettext_lazy("created")),
    ("update", gettext_lazy("changed")),
    ("delete", gettext_lazy("deleted")),
]


def _filtered_changes(form: AuditFilter, user):
    from pghistory.models import Events

    start, end = form.bounds()
    data = form.cleaned_data
    events = Events.objects.across(*history.readable_models(user))
    if data.get("customer"):
        customer = Customer.objects.filter(pk=data["customer"]).first()
        if customer is None:
            return Events.objects.none()
        events = Events.objects.references(customer).across(
            *[m for m in history.readable_models(user) if history.customer_columns(m)]
        )
    events = events.filter(pgh_created_at__gte=start, pgh_created_at__lt=end)
    if data.get("user"):
        events = events.filter(pgh_context__user=data["user"].pk)
    if data.get("path"):
        events = events.filter(pgh_context__path=data["path"])
    if data.get("action"):
        events = events.filter(pgh_label=data["action"])
    return events.order_by("-pgh_created_at", "-pgh_id")


def change_log(request: HttpRequest) -> HttpResponse:
    """The change history across all records, filtered; ``?format=csv`` exports."""
    require_admin(request.user)
    form = AuditFilter(request.GET, actions=LABELS, paths=PATHS)
    events = _filtered_changes(form, request.user) if history.enabled() and form.is_valid() else None
    if request.GET.get("format") == "csv" and events is not None:
        changes = [history.to_change(e) for e in events[:CSV_LIMIT]]
        names = _user_names(c.user_id for c in changes)
        record_access(request, Action.EXPORT, rows=len(changes), what="change history")
        return _csv(
            "change-history.csv",
            ["at", "user", "path", "detail", "record", "id", "action", "field", "before", "after"],
            (
                [
                    c.at.isoformat(),
                    names.get(c.user_id, ""),
                    c.path,
                    c.detail,
                    c.model._meta.label,
                    c.object_id,
                    c.label,
                    name,
                    before,
                    after,
                ]
                for c in changes
                for name, before, after in (c.fields or [("", "", "")])
            ),
        )
    context = {"form": form, "query": _query(request), "page_url": request.path}
    return _render_changes(request, "audit/change_log.html", context, events)


def retention_page(request: HttpRequest) -> HttpResponse:
    """Each kind's retention, its last run and the next run of the task."""
    require_admin(request.user)
    return render(
        request,
        "audit/retention.html",
        {"kinds": retention.overview(), "next_run": retention.next_run(), "runs": retention.recent_runs()},
    )
