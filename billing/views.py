"""Billing pages: invoices, their actions, and the dunning overview. Thin: services decide."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing import forms, services, tasks
from billing.models import DunningPolicy, Invoice, money, open_amount_expression, sum_money
from customer360 import access, exports, search
from customer360.models import Customer, Job
from customer360.text import whole_number

PAGE_SIZE = 50


def error_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(f"{message}" for messages_ in exc.message_dict.values() for message in messages_)
    return " ".join(exc.messages)


def filter_invoices(user, params) -> tuple[object, forms.InvoiceFilterForm]:
    """The invoices the user may see, narrowed by the list filters (shared by page and API)."""
    form = forms.InvoiceFilterForm(params or None)
    invoices = Invoice.objects.visible_to(user)
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            customers = search.filter_customers(Customer.objects.visible_to(user), data["q"])
            invoices = invoices.filter(Q(number__icontains=data["q"]) | Q(customer__in=customers))
        if data["status"] == "open":
            invoices = invoices.open()
        elif data["status"]:
            invoices = invoices.filter(status=data["status"])
        if data["dunning_level"] is not None:
            invoices = invoices.filter(dunning_level=data["dunning_level"])
        if data["overdue"]:
            invoices = invoices.overdue_on(timezone.localdate())
    return invoices, form


def invoice_list(request: HttpRequest) -> HttpResponse:
    """Invoices with filters and the open total of everything that matches."""
    access.require(request.user, "billing.view_invoice")
    invoices, form = filter_invoices(request.user, request.GET)
    fmt = exports.requested_format(request)
    if fmt:
        header, records = invoice_table(invoices)
        return exports.logged_export_response(request, records, header, "invoices", fmt, what="invoice list")
    totals = invoices.aggregate(
        count=Count("id"),
        open_count=Count("id", filter=Q(status__in=Invoice.OPEN_STATUSES)),
        open_amount=sum_money(open_amount_expression(), filter=Q(status__in=Invoice.OPEN_STATUSES)),
    )
    totals["open_amount"] = money(totals["open_amount"])  # SQLite drops trailing zeros
    paginator = Paginator(invoices.select_related("customer").order_by("-issue_date", "-id"), PAGE_SIZE)
    paginator.count = totals["count"]  # already counted above; saves a query
    page = paginator.get_page(request.GET.get("page"))
    today = timezone.localdate()
    for invoice in page.object_list:
        invoice.overdue_days = invoice.days_overdue(today)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "billing/invoice_list.html",
        {"page": page, "form": form, "totals": totals, "query": query.urlencode(), "today": today},
    )


def invoice_table(invoices) -> tuple[list[str], object]:
    """Every invoice of the filtered list for the export: numbers stay numbers, dates stay dates;
    (customer ids, row) records for an access-logged export."""
    header = [
        _("Number"),
        _("Customer number"),
        _("Customer"),
        _("Issued"),
        _("Due"),
        _("Gross"),
        _("Paid"),
        _("Open"),
        _("Status"),
        _("Dunning level"),
    ]
    statuses = dict(Invoice.Status.choices)
    records = (
        (
            [i.customer_id],
            [
                i.number,
                i.customer.customer_number,
                i.customer.display_name,
                i.issue_date,
                i.due_date,
                i.gross_total,
                i.paid_amount,
                i.open_amount,
                str(statuses.get(i.status, i.status)),
                i.dunning_level,
            ],
        )
        for i in invoices.select_related("customer").order_by("-issue_date", "-id").iterator(chunk_size=2000)
    )
    return header, records


def _visible_invoice(request: HttpRequest, pk: int) -> Invoice:
    return get_object_or_404(Invoice.objects.visible_to(request.user).select_related("customer"), pk=pk)


def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    access.require(request.user, "billing.view_invoice")
    invoice = _visible_invoice(request, pk)
    user = request.user
    context = {
        "invoice": invoice,
        "lines": list(invoice.lines.all()),
        "payments": list(invoice.payments.select_related("created_by")),
        "notices": list(invoice.notices.all()),
        "today": timezone.localdate(),
        "can_change": user.has_perm("billing.change_invoice"),
        "can_pay": user.has_perm("billing.add_payment"),
        "can_dun": user.has_perm("billing.manage_dunning"),
        "payment_form": forms.PaymentForm(initial={"amount": invoice.open_amount}),
        "dispute_form": forms.DisputeForm(),
        "resolve_form": forms.ResolveDisputeForm(),
        "promise_form": forms.PromiseForm(),
        "cancel_form": forms.CancelForm(),
        "pause_form": forms.PauseForm(),
    }
    return render(request, "billing/invoice_detail.html", context)


def _save_invoice(request: HttpRequest, invoice: Invoice | None) -> HttpResponse:
    """Create (``invoice`` None) or edit a draft: the head form and the lines formset."""
    fixed = invoice.customer if invoice else None
    initial = {}
    if invoice:
        initial = {"issue_date": invoice.issue_date, "due_date": invoice.due_date, "notes": invoice.notes}
    elif whole_number(request.GET.get("customer")) is not None:
        customer_id = whole_number(request.GET.get("customer"))
        customer = Customer.objects.visible_to(request.user).filter(pk=customer_id).first()
        if customer:
            initial = {"customer": customer.customer_number}
    line_initial = [
        {f: getattr(line, f) for f in ("product_code", "description", "quantity", "unit_price", "tax_rate")}
        for line in (invoice.lines.all() if invoice else [])
    ]
    head = forms.InvoiceForm(request.POST or None, user=request.user, initial=initial, fixed_customer=fixed)
    lines = forms.InvoiceLineFormSet(request.POST or None, initial=line_initial or None, prefix="lines")
    if request.method == "POST" and head.is_valid() and lines.is_valid():
        data = head.cleaned_data
        try:
            if invoice is None:
                invoice = services.invoice_create(
                    customer=data["customer"], issue_date=data["issue_date"], due_date=data["due_date"],
                    lines=lines.lines(), notes=data["notes"], actor=request.user,
                )  # fmt: skip
            else:
                invoice = services.invoice_update_draft(
                    invoice=invoice, issue_date=data["issue_date"], due_date=data["due_date"],
                    lines=lines.lines(), notes=data["notes"],
                )  # fmt: skip
            if "issue" in request.POST:
                services.invoice_issue(invoice=invoice, actor=request.user)
                messages.success(request, _("Invoice %(number)s issued.") % {"number": invoice.number})
            else:
                messages.success(request, _("Draft %(number)s saved.") % {"number": invoice.number})
            return redirect(invoice.get_absolute_url())
        except ValidationError as exc:
            messages.error(request, error_text(exc))
    return render(request, "billing/invoice_form.html", {"form": head, "lines": lines, "invoice": invoice})


def invoice_create(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "billing.add_invoice")
    return _save_invoice(request, None)


def invoice_edit(request: HttpRequest, pk: int) -> HttpResponse:
    access.require(request.user, "billing.change_invoice")
    invoice = _visible_invoice(request, pk)
    if invoice.status != Invoice.Status.DRAFT:
        messages.error(request, _("Only drafts can be edited; cancel an issued invoice instead."))
        return redirect(invoice.get_absolute_url())
    return _save_invoice(request, invoice)


def _received_at(day):
    """Today's payments get the current time; back-dated ones noon of their day."""
    if day is None or day == timezone.localdate():
        return None
    return timezone.make_aware(datetime.combine(day, time(12)))


# Each action: (permission, form class, service call, success message).
ACTIONS: dict[str, tuple[str, type | None, Callable, object]] = {
    "issue": (
        "billing.change_invoice",
        None,
        lambda i, d, u: services.invoice_issue(invoice=i, actor=u),
        gettext_lazy("Invoice issued."),
    ),
    "payment": (
        "billing.add_payment",
        forms.PaymentForm,
        lambda i, d, u: services.invoice_record_payment(
            invoice=i,
            amount=d["amount"],
            method=d["method"],
            reference=d["reference"],
            actor=u,
            received_at=_received_at(d["received_on"]),
        ),  # fmt: skip
        gettext_lazy("Payment recorded."),
    ),
    "dispute": (
        "billing.change_invoice",
        forms.DisputeForm,
        lambda i, d, u: services.invoice_dispute(invoice=i, reason=d["reason"], actor=u),
        gettext_lazy("Invoice marked as disputed; dunning stopped."),
    ),
    "resolve": (
        "billing.change_invoice",
        forms.ResolveDisputeForm,
        lambda i, d, u: services.invoice_resolve_dispute(invoice=i, note=d["note"], actor=u),
        gettext_lazy("Dispute resolved."),
    ),
    "promise": (
        "billing.change_invoice",
        forms.PromiseForm,
        lambda i, d, u: services.invoice_promise_payment(
            invoice=i, promised_date=d["promised_date"], note=d["note"], actor=u
        ),
        gettext_lazy("Payment promise recorded; dunning waits until that date."),
    ),
    "cancel": (
        "billing.change_invoice",
        forms.CancelForm,
        lambda i, d, u: services.invoice_cancel(invoice=i, reason=d["reason"], actor=u),
        gettext_lazy("Invoice cancelled."),
    ),
    "pause": (
        "billing.manage_dunning",
        forms.PauseForm,
        lambda i, d, u: services.dunning_pause(invoice=i, until=d["until"], reason=d["reason"], actor=u),
        gettext_lazy("Dunning paused."),
    ),
    "resume": (
        "billing.manage_dunning",
        None,
        lambda i, d, u: services.dunning_resume(invoice=i, actor=u),
        gettext_lazy("Dunning resumed."),
    ),
}


@require_POST
def invoice_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One action button of the detail page; refusals come back as a message naming the reason."""
    if action not in ACTIONS:
        raise PermissionDenied(_("Unknown action."))
    permission, form_class, call, success = ACTIONS[action]
    access.require(request.user, permission)
    invoice = _visible_invoice(request, pk)
    form = form_class(request.POST) if form_class else None
    if form is not None and not form.is_valid():
        errors = " ".join(
            f"{form.fields[f].label if f in form.fields else f}: {' '.join(e)}"
            for f, e in form.errors.items()
        )
        messages.error(request, errors)
        return redirect(invoice.get_absolute_url())
    try:
        call(invoice, form.cleaned_data if form else {}, request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, success)
    return redirect(invoice.get_absolute_url())


def dunning_overview(request: HttpRequest) -> HttpResponse:
    """The policy and its levels, open invoices per level, and the last runs."""
    access.require(request.user, "billing.view_dunningpolicy")
    policy = DunningPolicy.active()
    levels = list(policy.levels.all()) if policy else []
    fmt = exports.requested_format(request)
    if fmt:
        header, records = dunning_table(Invoice.objects.visible_to(request.user), levels)
        return exports.logged_export_response(
            request, records, header, "dunning", fmt, what="dunning overview"
        )
    per_level = {
        row["dunning_level"]: row
        for row in Invoice.objects.visible_to(request.user)
        .open()
        .values("dunning_level")
        .annotate(count=Count("id"), amount=sum_money(open_amount_expression()))
        .order_by()
    }
    for level in levels:
        level.open_row = per_level.get(level.level, {"count": 0, "amount": 0})
    job = None
    if whole_number(request.GET.get("job")) is not None:
        job = Job.objects.filter(pk=whole_number(request.GET.get("job")), kind=tasks.JOB_KIND).first()
    runs = list(Job.objects.filter(kind=tasks.JOB_KIND)[:5])
    return render(
        request,
        "billing/dunning.html",
        {
            "policy": policy,
            "levels": levels,
            "job": job,
            "runs": runs,
            "can_run": request.user.has_perm("billing.manage_dunning"),
            "not_dunned": per_level.get(0, {"count": 0, "amount": 0}),
        },
    )


def dunning_table(invoices, levels) -> tuple[list[str], object]:
    """The invoices behind the dunning overview (open and overdue or already dunned), highest level
    first, each with the customer it concerns: (customer ids, row) for an access-logged export."""
    names = {level.level: gettext(level.name) for level in levels}  # seeded names: translation keys
    statuses = dict(Invoice.Status.choices)
    today = timezone.localdate()
    header = [
        _("Number"),
        _("Customer number"),
        _("Customer"),
        _("Due"),
        _("Days overdue"),
        _("Open"),
        _("Dunning level"),
        _("Level name"),
        _("Last dunning notice"),
        _("Dunning paused until"),
        _("Payment promised by"),
        _("Status"),
    ]
    in_dunning = invoices.open().filter(Q(dunning_level__gte=1) | Q(due_date__lt=today))
    records = (
        (
            [i.customer_id],
            [
                i.number,
                i.customer.customer_number,
                i.customer.display_name,
                i.due_date,
                i.days_overdue(today),
                i.open_amount,
                i.dunning_level,
                names.get(i.dunning_level, ""),
                i.last_dunned_on,
                i.dunning_paused_until,
                i.promise_to_pay_date,
                str(statuses.get(i.status, i.status)),
            ],
        )
        for i in in_dunning.select_related("customer")
        .order_by("-dunning_level", "due_date", "id")
        .iterator(chunk_size=2000)
    )
    return header, records


@require_POST
def dunning_run_now(request: HttpRequest) -> HttpResponse:
    """Queue the Celery task now; the page then shows its result (notices per level)."""
    access.require(request.user, "billing.manage_dunning")
    job = tasks.start_dunning_run(user=request.user)
    messages.success(request, _("Dunning run started."))
    return redirect(f"{reverse('billing:dunning')}?job={job.pk}")


def dunning_job(request: HttpRequest, pk: int) -> HttpResponse:
    """The htmx-polled status of one run."""
    access.require(request.user, "billing.view_dunningpolicy")
    job = get_object_or_404(Job, pk=pk, kind=tasks.JOB_KIND)
    return render(request, "billing/_dunning_job.html", {"job": job})
